// Package cgroup creates, limits, measures and removes the cgroups of
// sandboxed runs, on cgroup v1 and v2 alike, only under this process's own
// subtree.
//
// Each run gets a cgroup R with two leaves: R/init holds the sandbox's init
// process and R/prog the user's program and everything it starts. The init
// moves itself into prog just before it starts the program and back out just
// after, through files opened here, so prog's counters (CPU, peak memory, OOM
// kills, tasks) are the program's alone and its pids limit is exact. R bounds
// both together.
//
// A warm slot has a cgroup of its own (NewSlot): its init leaf holds the
// slot's init and zygote, and its runs' cgroups are made beside that leaf,
// with one leaf only (Run.NewProgRun): the program alone is in it. The slot
// keeps it for the next program (Reset): its limits set again where they
// differ, its peak memory reset and its CPU time and OOM kills counted from
// then, which costs far less than a fresh cgroup.
//
// On v2 a cgroup that holds processes cannot enable controllers for its
// children, so New first moves this process into a leaf of its own cgroup
// ("onpyrunner-supervisor") and then enables memory, pids and cpu below it.
// That needs a delegated cgroup: run the service under systemd with
// Delegate=yes, or in a cgroup that holds no other process.
package cgroup
