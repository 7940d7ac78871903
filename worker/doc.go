// Package worker runs jobs: a fixed number of slots, each taking the next
// job from the queue, running it in the sandbox with its output streamed
// into the job's live log, and storing the result. A canceled job's run is
// killed. On shutdown the pool stops taking jobs, lets running ones finish
// for a bounded time, then kills them and hands them back to the queue.
package worker
