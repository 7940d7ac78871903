// Package redis is the distributed store of OnPyRunner: the job queue, the
// job store and the live logs in Redis, shared by API and worker processes
// on many machines.
//
// Layout, under a key prefix (default "onpyrunner:"):
//
//	job:{id}   hash: the job (status, code, input, limits, result, ...);
//	           given a TTL of the retention when it ends
//	ev:{id}    stream: the job's live log (status changes and output),
//	           entry ids 0-1, 0-2, ... are the events' Seq; TTL EventsTTL
//	           once the job ends
//	queue:{language}:{version}
//	           stream with the consumer group "workers": one entry per
//	           time a job of that runtime is queued; a worker reads the
//	           queues of the runtimes it has (Store.Serve), so a job goes
//	           only to a worker that can run it
//	queue      the same, for jobs with no version (stored before jobs had
//	           versions); every worker reads it
//	queued     the number of queued jobs (the queue cap's counter)
//	running    set of the running jobs' ids
//	runtimes   hash "language version" -> the runtime (JSON), kept fresh by the workers
//	retention  seconds a finished job is kept: one setting for every
//	           process (set by those given a Retention)
//	ended      hash "status verdict" -> jobs ended so (jobs_total)
//
// Waiting readers of live logs share one connection per process: one
// reader blocks in XREAD on all their streams (fanout.go).
//
// Every change of a job's state is one Lua script, so it is atomic:
// submit (cap check, hash, queue entry, first event), start, finish, hand
// back, cancel, append.
//
// Delivery is at least once, with leases: a worker reads an entry with
// XREADGROUP, which leaves it pending until the job ends (XACK). While a
// job runs its worker renews the lease (XCLAIM to itself resets the idle
// time) every Lease/3. A worker that dies stops renewing; once an entry has
// been idle for Lease, any worker takes it over (XAUTOCLAIM) and runs the
// job again, or ends it failed after MaxAttempts starts. A cancel marks the
// job and appends "canceled" to its live log, which the running worker
// follows.
//
// Redis must keep what it acknowledged: run it with appendonly yes and
// maxmemory-policy noeviction (see the README). When Redis cannot be
// reached, every method fails fast with onpyrunner.CodeUnavailable.
package redis
