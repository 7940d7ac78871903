// Package sqlite is the embedded store of OnPyRunner: the job queue and the
// job store in one SQLite file (pure Go, modernc.org/sqlite), for a server
// that runs everything in one process with nothing else to install.
//
// Durability: the database is in WAL mode with synchronous=NORMAL, which
// a kill -9 cannot undo (the operating system has every commit) but a
// power cut can. A submission also waits for an fsync of the log (shared
// by the submissions at that moment, see groupSync), so a job is on disk
// before its submitter hears 202; a power cut can lose only later changes
// (a claim, a result, a cancel), and the job then runs again.
// Jobs found running when the store opens belonged to a process that died:
// they are queued again, or end failed after MaxAttempts tries. Live output
// is kept in memory only while a job is unfinished and a few seconds after
// (see internal/livelog); a finished job's output is in its result.
package sqlite
