// Package sandbox runs untrusted Python programs isolated and under limits.
// It is the only code of OnPyRunner that touches namespaces, cgroups,
// seccomp, Landlock, mounts and rlimits.
//
// A run has two sides. The supervisor (Sandbox.Run, in the service's
// process) creates the run's cgroups, starts this same binary again as the
// run's init in fresh user, mount, pid, network, ipc and uts namespaces,
// feeds stdin, reads stdout and stderr with caps, and enforces the wall
// clock and the CPU time; it stays outside every namespace of the run, so
// the program can neither see nor signal it. The init (init_linux.go) is
// pid 1 of the run: it builds a read-only root of the runtime's files,
// pivots into it, moves into the program's cgroup, drops every privilege,
// installs Landlock and the seccomp filter, starts the program as pid 2,
// moves back out, reaps orphans, and reports how the program ended. When it
// exits, the kernel kills whatever is left in the pid namespace and the
// scratch tmpfs goes with the mount namespace: the host never walks it.
//
// Each run has a cgroup with two leaves, init and prog (see package
// cgroup), so the counters behind the verdict (CPU, peak memory, OOM kills)
// and the task limit are the program's alone. Verdicts come from the
// kernel's accounting and from the limits the supervisor enforced, never
// from the program's output.
//
// Inside its user namespace the init is uid 0 (host uid Config.UIDBase,
// unprivileged) while it sets up, and the program is uid 1000 (a host uid
// of its own per run in flight). The init then becomes that uid too, not
// dumpable: the program may signal it but not trace it or read its memory.
// A signal that ends the init ends the run (the program killed its own
// run: runtime_error, SIGKILL); the init installs no handlers of its own,
// since asking the Go runtime for them costs milliseconds a run.
package sandbox
