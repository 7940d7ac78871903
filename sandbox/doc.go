// Package sandbox runs untrusted Python programs isolated and under limits.
// It is the only code of OnPyRunner that touches namespaces, cgroups,
// seccomp, Landlock, mounts and rlimits.
//
// A run has two sides. The supervisor (Sandbox.Run, in the service's
// process) creates the run's cgroups, starts this same binary again as the
// run's init in fresh user, mount, pid, network, ipc and uts namespaces,
// feeds stdin, reads stdout and stderr with caps, and enforces the wall
// clock and the CPU time; it stays outside every namespace of the run, so
// the program can neither see nor signal it. The init (init.go) is pid 1
// of the run: it builds a read-only root of the runtime's files, pivots
// into it, moves into the program's cgroup, drops every privilege,
// installs Landlock and the seccomp filter, starts the program as pid 2,
// moves back out, reaps orphans, and reports how the program ended. When it
// exits, the kernel kills whatever is left in the pid namespace and the
// scratch tmpfs goes with the mount namespace: the host never walks it.
//
// What a run's program gets (its /proc, scratch space, cgroup, limits,
// privileges, Landlock domain and seccomp filter) is described once, in
// Go, as a list of system calls (policy.go), and both paths carry that
// list out as it is: the init with Go's system calls (init_confine.go), a
// warm run's own process with a step runner (zygote.py). Neither decides.
//
// Files are named for the process their code runs in: init*.go in the
// init, zygote.py in a warm slot's zygote and the processes it forks,
// pid1_amd64.go and steprunner_amd64.go are the machine code those run;
// the rest in the supervisor.
//
// Landlock confines writes to the scratch space and the harmless devices
// (landlock.go), beneath the read-only mounts that already refuse them
// elsewhere: a second barrier, should a mount ever be wrong. Its price is
// paid in deep trees: the kernel checks each write access by walking from
// the file up to the rule that grants it (/work, /tmp), so an access at
// depth d costs d steps and a tree built level by level costs the square
// of its depth. 3,000 levels made with mkdir+chdir, a file written and
// read in each, then all removed: 0.70 s, 1.83 s and 1.16 s in the
// sandbox against 0.014 s, 0.079 s and 0.040 s bare on tmpfs, and
// 0.018 s, 0.087 s and 0.042 s in the sandbox without Landlock. It is
// kept: the walk is the whole cost (nothing else of the sandbox grows
// with depth), programs rarely nest folders more than a few dozen deep,
// where the walk costs nothing measurable, and dropping the write rights
// would leave Landlock confining nothing. Reads are not handled at all
// (they are granted everywhere), so they never walk.
//
// The run's network namespace has only lo, down: no address and no route,
// so no TCP or UDP, and no socket queue outside what the cgroup charges.
// The kernel charges no cgroup for a netlink socket's queue of replies, so
// the seccomp filter sends each socket(AF_NETLINK) to the supervisor, which
// lets a run open 16 (status.go: the init hands over the filter's
// listener), and refuses SO_RCVBUF, so that each holds its default buffer
// at most.
//
// Each run has a cgroup with two leaves, init and prog (see package
// cgroup), so the counters behind the verdict (CPU, peak memory, OOM kills)
// and the task limit are the program's alone. Verdicts come from the
// kernel's accounting and from the limits the supervisor enforced, never
// from the program's output. A run's memory is its peak resident memory as
// if it had run alone; memory.go says how both paths count it alike.
//
// What a program printed outlives the limit that stops it: a buffered
// program (python3 to a pipe, which buffers 8 KiB) stopped by a time
// limit, a cancel or, on cgroup v1, its memory limit first gets SIGINT and
// 250 ms: the KeyboardInterrupt unwinds it and Python flushes stdout as it
// exits; then the kill. A program that finishes never gets the signal. At
// the memory limit a v1 cgroup pauses the program (its OOM killer off):
// one alone gets 32 MiB more for its 250 ms; one with children goes back
// to the OOM killer, which picks its victim as on a machine of its own (a
// child killed there leaves its parent running, the verdict memory_limit).
// v2 has no pause: its OOM killer kills, and a buffered program loses its
// buffer.
// stdout and stderr are read under one lock, a read of stderr first taking
// what stdout holds, so that a traceback comes after what was printed
// before it (two pipes keep no order between them otherwise).
//
// Inside its user namespace the init is uid 0 (host uid Config.UIDBase,
// unprivileged) while it sets up, and the program is uid 1000 (a host uid
// of its own per run in flight). The init then becomes that uid too, not
// dumpable: the program may signal it but not trace it or read its memory.
// A signal that ends the init ends the run (the program killed its own
// run: runtime_error, SIGKILL); the init installs no handlers of its own,
// since asking the Go runtime for them costs milliseconds a run.
//
// # Warm slots
//
// Starting Python costs more than everything else of a run, so a worker
// keeps a warm Slot (warm.go, zygote.py): an init like the above, set up
// once (namespaces, root, network, a cgroup of the slot's own), whose
// program is a zygote: Python, past its start-up, as the slot's uid 0
// (the host's unprivileged UIDBase), holding nothing but its code. For each
// run the supervisor readies the program cgroup (the slot keeps the last
// run's, empty, with its limits set again where they differ and its
// counters reset, while the last program left little charged to it; see
// cgroup.Run.Reset) and hands the zygote, over a socket, the run's
// settings (uid, limits) with its stdio, a status channel, a sealed memory
// file holding the code and the files that join the cgroup. The zygote
// mounts fresh scratch tmpfs over the last run's, enters new pid and IPC
// namespaces for its children, spawns there a tiny static pid 1
// (pid1_amd64.go: it becomes the program's uid, reaps orphans and ends the run on a
// terminating signal, as a cold run's init does) and forks C as pid 2. C
// mounts a /proc for its namespace, moves into the run's cgroup (made
// beside the slot's init leaf, so that its pid 1 shows there as ../init,
// as a cold run's does) and a cgroup namespace rooted there, copies its code from
// the memory file to /work/main.py (sendfile: kernel to kernel), sets the
// rlimits, drops every privilege as the init above does, takes the run's
// stdio, installs Landlock and the seccomp filter and hands the filter's
// listener to the supervisor: it carries out the policy's steps in a few
// calls (steprunner_amd64.go: calls from Python would each touch, and so
// copy, pages that the fork shares), and runs the code as __main__ from /work/main.py with
// the semantics of `python3 main.py` (sys.argv, sys.path[0], __file__,
// tracebacks without the zygote's frames, SystemExit codes, sys.std* with
// the usual buffering, made once by the zygote, which never writes to
// them). When
// C ends, the zygote reports how and kills the pid 1, and the kernel ends
// every process left in the run's pid namespace; the supervisor kills what
// is left in the run's cgroup either way. (Where there is no tiny pid 1,
// the zygote clones a copy of itself as the pid 1, which forks C.)
// A run that made a socket (any family, a socketpair too: the seccomp
// filter sends each to the supervisor, which lets it through and notes
// it) may leave something in its network namespace: a socket, an
// abstract unix name, a counter. Before the next run the zygote moves
// itself into a fresh network namespace, and that run's state goes with
// the old one. A run that made none leaves the namespace as it found it
// (nothing else reaches a network namespace's state: io_uring, BPF and
// setns are denied, /proc/sys is read-only, no socket is inherited), and
// the next run keeps it: a fresh namespace costs the kernel about a fifth
// of a warm run's CPU, most of it in its teardown. Each socket call waits
// for the supervisor's answer, whose CPU no cgroup of the run is charged
// for: a program that does nothing but make and close unix sockets made
// 12,000 a second here, and cost the supervisor about 1.4 times the CPU
// it spent itself (1.0 s against 0.75 s in 2 s), within the run's limits,
// as netlink sockets always have.
// Nothing of a run survives into the next: its processes, pid numbers,
// IPC objects, network, scratch files, /proc and cgroup are all its own.
//
// The zygote never holds any run's code, input or output, not even for a
// moment: what it holds, every fork of it holds, so a copy left in its
// heap (freed or not), or in any buffer it reuses, would be readable by
// every later run of the slot. It receives each run's settings, which hold
// nothing of the run's, into a fresh private buffer, and passes the run's
// descriptors (code, stdio) on without reading them; the code reaches
// memory only in C, the run's own process. No mapping of the zygote is
// shared: a fork's pages are all copy-on-write. The zygote cannot be signalled (another uid, another pid
// namespace) or traced (seccomp, not dumpable) by a run, and never shares
// a descriptor with one; a zygote that dies is replaced at the next run.
// A zygote is uid 0 inside its slot, so that it can make namespaces and
// mounts for each run: the host sees an unprivileged uid, and no run code
// ever executes in it.
// While there are more CPUs than slots, each slot's zygote, and so its
// runs, keeps to a CPU of its own (runs get one core's bandwidth anyway):
// forks and hand-offs then never move between CPUs, which costs less and
// keeps runs' timings steady.
//
// What a fork shares between runs of one slot, and why that is accepted:
//
//   - The hash seed (PYTHONHASHSEED is drawn once per interpreter): runs of
//     a slot hash strings alike. A program could learn the seed, but there
//     is nothing across runs to attack with it: runs share no data
//     structure. A fresh zygote, every 1000 runs, draws a new one.
//   - The random module's state is not shared: it reseeds itself from
//     os.urandom in each fork (os.register_at_fork), as do tempfile's names;
//     secrets and uuid read the kernel's randomness directly.
//   - Modules that the runtime preloads (Runtime.Preload: a .pth file that
//     site runs at every start, cold runs included) are the zygote's,
//     imported before its own code: whatever they drew at import is the
//     same in every fork. numpy.random's global generator is the one such
//     state known, and C seeds it afresh before the program (reseed in
//     zygote.py); a module that draws a secret at import is not one to
//     preload.
//   - The address-space layout (ASLR) is the zygote's: a program learns
//     where the zygote's objects are, which helps attack only a process
//     that shares that memory, and no run does (copy-on-write, no shared
//     writable mapping, no descriptor to another run).
//   - Each 2 MiB of the zygote's memory that it has wholly mapped is
//     backed by a huge page (hugify in zygote.py): of its own memory,
//     and of the private mappings of its files, each such piece
//     replaced by an anonymous copy of the same bytes first (PyPy's
//     read-only data, 16 MiB, and some of its code: 24 MiB of a PyPy
//     zygote stays in huge pages; no 2 MiB of CPython's is whole). A
//     run may read and write what it could before, copy-on-write as
//     before: its write maps that huge page in small pages, for the run
//     alone (and one the zygote writes to while a run lives goes back
//     to small pages for good: most of its heap and data). A fork
//     copies one page table entry for each instead of 512, the run
//     finds that code mapped, and its exit drops as few: PyPy's warm
//     print(1) runs about a tenth faster. Only what the zygote had
//     mapped whole, so that a run has mapped nothing its own use would
//     not have, beyond the zygote's own work: memory counts as before
//     (backing the whole of PyPy's code made runs a quarter faster, but
//     its runs then counted less memory than cold ones by the part of
//     its code they ran, up to 4 MiB). The copies are each zygote's
//     own: memory the page cache shared between slots.
//   - At exit C waits for threads, runs atexit, finalizes the program's own
//     objects and flushes the standard streams, but skips tearing down the
//     zygote's objects (that would copy every shared page): an object
//     reachable from a module the zygote loaded is not finalized at exit.
//
// PyPy runs warm too (from its Python 3.10 on; Runtime.warm), by the same
// zygote. Its collector has no freeze and moves objects, so a collection in
// a run walks and copies the zygote's heap: the run ends by PyPy's own
// exit (a SystemExit that nothing of the zygote's catches), which waits
// for threads, runs atexit and flushes every open file, as PyPy's exit
// does anywhere, without a collection. With no os.posix_spawn, the zygote
// spawns the tiny pid 1 with libc's posix_spawn, so that each run forks
// the interpreter once.
package sandbox
