// Package sqlite is the embedded store of OnPyRunner: the job queue and the
// job store in one SQLite file (pure Go, modernc.org/sqlite), for a server
// that runs everything in one process with nothing else to install.
//
// Durability: the database is in WAL mode. A submission commits with
// synchronous=FULL, so a job is on disk before its submitter hears 202;
// the rest (claims, results, cancels) with synchronous=NORMAL, which a
// kill -9 cannot undo (the operating system has it) but a power cut can,
// back to the last submission: a job then runs again.
// Jobs found running when the store opens belonged to a process that died:
// they are queued again, or end failed after MaxAttempts tries. Live output
// is kept in memory only while a job is unfinished and a few seconds after
// (see internal/livelog); a finished job's output is in its result.
package sqlite
