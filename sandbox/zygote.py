# The zygote of a warm sandbox slot (see warm.go): Python started once in
# the slot's namespaces, as the slot's uid 0, that forks one job at a time.
# Its argument is the slot's setup (JSON): the seccomp filter, the Landlock
# rules, the /proc entries to mask and the set-up steps' system calls, the
# same for every job. For each job it receives on fd 3 a JSON config (uid
# and limits) and descriptors (stdin, stdout, stderr, a status channel, a
# sealed memory file with the code, the files that join the job's cgroup),
# mounts fresh scratch tmpfs over the last job's, and then (spawn_job)
# enters new pid and IPC namespaces for its children, spawns the tiny pid 1
# there (pid1.go) and forks
#   C: pid 2; mounts a /proc for the namespace, joins the job's cgroup,
#      copies its code to /work/main.py, drops every
#      privilege, installs Landlock and the seccomp filter (make_steps),
#      and runs the code as __main__ as `python3 main.py` would.
# It waits for C, reports how it ended and kills the pid 1, which ends
# every other process of the job (the supervisor kills them too, through
# the job's cgroup), and moves itself into a fresh network namespace for
# the next job. Where there is no tiny pid 1 (not x86-64) it clones B
# instead, a copy of itself, as the pid 1 that forks C.
# Nothing here holds a secret, nor ever a job's code, input or output: it
# passes their descriptors on unread (the kernel copies the code, in C).
# A job runs as another uid, in a pid namespace where the zygote does not
# exist, and never sees fd 3.
import array, atexit, base64, builtins, ctypes, gc, io, json, os, signal, socket, sys, types
from importlib.machinery import SourceFileLoader

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x02000000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 38, 47
MNT_DETACH = 2


def check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return r


def mount(src, dst, fstype, flags, data=None):
    check(libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), data.encode() if data else None), "mount " + dst)


def report(fd, **msg):
    os.write(fd, (json.dumps(msg) + "\n").encode())


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


def landlock_ruleset(rules):
    """A Landlock ruleset fd from the supervisor's rules: handled rights,
    scopes, and [path, rights] pairs. Landlock ignores rules on a mount
    point's covered directory, so each job's is made after its tmpfs are
    mounted."""
    attr = RulesetAttr(rules["handled"], 0, rules["scoped"])
    size = ctypes.sizeof(attr) if rules["scoped"] else 8  # what ABIs before 6 know
    fd = check(libc.syscall(NR["landlock_create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(size), 0), "landlock")
    for path, rights in rules["paths"]:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            attr = PathBeneath(rights, pfd)
            check(libc.syscall(NR["landlock_add_rule"], fd, 1, ctypes.byref(attr), 0), "landlock " + path)
        finally:
            os.close(pfd)
    os.set_inheritable(fd, False)
    return fd


SETUP = json.loads(sys.argv[1])
NR = SETUP["syscalls"]  # this architecture's system call numbers
_filter = base64.b64decode(SETUP["filter"])
FILTER = ctypes.create_string_buffer(_filter, len(_filter))
FPROG = SockFprog(len(_filter) // 8, ctypes.addressof(FILTER))


class Step(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_long), ("args", ctypes.c_long * 6), ("res", ctypes.c_long)]


KEEP = []  # what the steps point to


def cstr(s):
    b = ctypes.create_string_buffer(s.encode())
    KEEP.append(b)
    return ctypes.addressof(b)


def proc_steps():
    """The steps that mount a job's /proc: the proc itself, /proc/sys read
    only, and the host's entries masked (empty), as the init's mountProc
    does."""
    proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    steps = [
        ("mount /proc", "mount", cstr("proc"), cstr("/proc"), cstr("proc"), proc_flags, 0),
        ("mount /proc/sys", "mount", cstr("/proc/sys"), cstr("/proc/sys"), 0, MS_BIND | MS_REC, 0),
        ("remount /proc/sys", "mount", cstr(""), cstr("/proc/sys"), 0, MS_REMOUNT | MS_BIND | MS_RDONLY | proc_flags, 0)]
    for m in SETUP["masks"]:
        path = cstr("/proc/" + m["path"])
        if m["dir"]:
            steps.append(("mask /proc/" + m["path"], "mount", cstr("tmpfs"), path, cstr("tmpfs"), MS_RDONLY | proc_flags, cstr("mode=0555")))
        else:
            steps.append(("mask /proc/" + m["path"], "mount", cstr("/dev/null"), path, 0, MS_BIND, 0))
    return steps


def make_steps(n_cgroups, n_rlimits):
    """The system calls that set up a job's program, in order: its /proc
    (proc_steps), joining its cgroup and a cgroup namespace rooted there,
    its limits (C first copies its code), dropping every privilege, its
    stdio, Landlock, seccomp and handing over the filter's listener.
    fill_steps sets what is the job's. The forked program runs them in few
    calls (run_steps): calls from here would touch, and so copy, page after
    page of the interpreter."""
    steps = proc_steps()
    steps += [("join cgroup", "write", -1, cstr("0"), 1)] * n_cgroups
    steps += [("unshare cgroup", "unshare", CLONE_NEWCGROUP), ("setsid", "setsid")]
    steps += [("setrlimit", "prlimit64", 0, -1, ctypes.addressof(RLIMITS[i]), 0) for i in range(n_rlimits)]
    steps += [("drop capability %d" % cap, "prctl", PR_CAPBSET_DROP, cap) for cap in range(SETUP["capLast"] + 1)]
    steps += [("setgroups", "setgroups", 0, 0), ("setresgid", "setresgid"), ("setresuid", "setresuid"),
              ("clear ambient capabilities", "prctl", PR_CAP_AMBIENT, 4), ("not dumpable", "prctl", PR_SET_DUMPABLE, 0),
              ("no_new_privs", "prctl", PR_SET_NO_NEW_PRIVS, 1)]
    steps += [("dup", "dup3", -1, fd, 0) for fd in range(4)]
    steps += [("chdir /work", "chdir", cstr("/work"))]
    if SETUP["landlock"]:
        steps += [("landlock", "landlock_restrict_self", -1, 0)]
    steps += [("close descriptors", "close_range", 4, 0xFFFFFFFF, 0),
              ("seccomp", "seccomp", 1, SECCOMP_FILTER_FLAG_NEW_LISTENER, ctypes.addressof(FPROG)),
              ("hand over the seccomp listener", "sendmsg", 3, ctypes.addressof(LISTENER_MSG), 0),
              ("close the seccomp listener", "close", LISTENER_FD)]
    table = (Step * len(steps))()
    at = {}  # the first step of each name
    for i, (name, nr, *args) in enumerate(steps):
        at.setdefault(name, i)
        table[i].nr = NR[nr]
        for j, a in enumerate(args):
            table[i].args[j] = a
    return table, [st[0] for st in steps], at


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class CmsgRights(ctypes.Structure):  # one descriptor, padded to CMSG_SPACE
    _fields_ = [("len", ctypes.c_size_t), ("level", ctypes.c_int), ("type", ctypes.c_int),
                ("fd", ctypes.c_int), ("pad", ctypes.c_int)]


# The seccomp step's listener is the lowest free descriptor: 4, with only
# the stdio and the status channel (3) left. C hands it to the supervisor
# (serveNetlinkCap in status.go) with a status message and closes it.
SECCOMP_FILTER_FLAG_NEW_LISTENER, LISTENER_FD = 8, 4
_text = ctypes.create_string_buffer(b'{"listener":true}\n', 18)
_iov = Iovec(ctypes.addressof(_text), 18)
_rights = CmsgRights(20, socket.SOL_SOCKET, socket.SCM_RIGHTS, LISTENER_FD, 0)
LISTENER_MSG = Msghdr(None, 0, ctypes.addressof(_iov), 1, ctypes.addressof(_rights), ctypes.sizeof(_rights), 0)

RLIMITS = ((ctypes.c_uint64 * 2) * 16)()
STEPS, NAMES, AT, JOINS = None, [], {}, 0  # JOINS: the cgroup files they were made for


def fill_steps(job, fds, status):
    """Sets a job's own arguments in the steps, made on the first job (the
    count of cgroup files is the host's)."""
    global STEPS, NAMES, AT, JOINS
    rl = job["rlimits"]
    if STEPS is None or len(fds["prog"]) != JOINS:
        STEPS, NAMES, AT = make_steps(len(fds["prog"]), len(rl))
        JOINS = len(fds["prog"])
    for k, fd in enumerate(fds["prog"]):
        STEPS[AT["join cgroup"] + k].args[0] = fd
    for k, r in enumerate(rl):
        RLIMITS[k][0] = RLIMITS[k][1] = r["value"]
        STEPS[AT["setrlimit"] + k].args[1] = r["resource"]
    for name in ("setresgid", "setresuid"):
        for j in range(3):
            STEPS[AT[name]].args[j] = job["uid"]
    for k, fd in enumerate(fds["stdio"] + [status]):
        STEPS[AT["dup"] + k].args[0] = fd
    if "landlock" in AT:
        STEPS[AT["landlock"]].args[0] = fds["ruleset"]


def load_runner(code):
    """The step runner (steps.go) as a function, or None where there is
    none."""
    if not code:
        return None
    code = base64.b64decode(code)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    addr = libc.mmap(None, 4096, 3, 0x22, -1, 0)  # PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    if addr in (None, ctypes.c_void_p(-1).value):
        return None
    ctypes.memmove(addr, code, len(code))
    check(libc.mprotect(ctypes.c_void_p(addr), 4096, 5), "mprotect")  # PROT_READ|PROT_EXEC
    return ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.c_long)(addr)


RUNNER = load_runner(SETUP["runner"])
SYSCALL = ctypes.CFUNCTYPE(ctypes.c_long, *[ctypes.c_long] * 7, use_errno=True)(("syscall", libc))


def run_steps(first, last):
    """Runs steps first to last (exclusive); raises OSError naming the step
    that failed."""
    if RUNNER:
        done = first + RUNNER(ctypes.addressof(STEPS) + first * ctypes.sizeof(Step), last - first)
    else:
        done = first
        while done < last:
            st = STEPS[done]
            if SYSCALL(st.nr, *st.args) < 0:
                st.res = -ctypes.get_errno()
                break
            done += 1
    if done < last:
        err = -STEPS[done].res
        raise OSError(err, "%s: %s" % (NAMES[done], os.strerror(err)))


MAIN = "/work/main.py"


def copy_code(job, code):
    """Copies the job's code from its memory file to main.py, kernel to
    kernel, and closes the memory file."""
    fd = os.open(MAIN, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        at = 0
        while n := os.sendfile(fd, code, at, 1 << 30):
            at += n
        os.fchown(fd, job["uid"], job["uid"])
    finally:
        os.close(fd)
        os.close(code)


def as_python3_main():
    """Makes what `python3 main.py` has before it runs main.py: the standard
    streams on fds 0-2, sys.argv and sys.path, an empty __main__. They are
    made once, here (the zygote's fds 0-2 are /dev/null, and it writes
    nothing there), and each job's program finds them made."""
    def text(fd, mode, line):
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buf, encoding="utf-8", errors="backslashreplace" if fd == 2 else "strict",
                                line_buffering=line, write_through=(fd == 2))
    streams = text(0, "rb", False), text(1, "wb", False), text(2, "wb", True)
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    main = types.ModuleType("__main__")
    main.__file__, main.__builtins__, main.__cached__ = MAIN, builtins, None
    main.__loader__ = SourceFileLoader("__main__", MAIN)
    sys.modules["__main__"] = main
    sys.argv, sys.orig_argv = ["main.py"], [SETUP["argv0"], "main.py"]
    sys.path[0] = os.path.dirname(MAIN)


def read_file(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def run_main():
    """Runs main.py as __main__, then exits as the interpreter would; never
    returns."""
    path, main = MAIN, sys.modules["__main__"]
    code = 0
    try:
        source = read_file(path)
        nul = source.find(b"\0")
        if nul >= 0 and sys.version_info < (3, 12):
            # As 3.11 reads a script: each line ends at its first NUL.
            source = b"\n".join(line.split(b"\0", 1)[0] for line in source.split(b"\n"))
        elif nul >= 0:  # as 3.12 refuses one
            raise SyntaxError("source code cannot contain null bytes", (path, source.count(b"\n", 0, nul) + 1, None, None))
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as e:
        code = exit_code(e)
    except BaseException as e:
        # As the interpreter does, without the frames of this file.
        tb = e.__traceback__.tb_next if e.__traceback__ else None
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        code = 1
        if isinstance(e, KeyboardInterrupt):
            code = -signal.SIGINT
    os._exit(shutdown(main, code))


def exit_code(e):
    """The exit status of an uncaught SystemExit, as the interpreter says."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        print(e.code, file=sys.stderr)
    except Exception:
        pass
    return 1


def shutdown(main, code):
    """What the interpreter does at exit, less the teardown of the
    zygote's own objects (shared pages: tearing them down would copy them
    all): wait for threads, run atexit, finalize the program's objects,
    flush the standard streams."""
    try:
        threading = sys.modules.get("threading")
        if threading:
            threading._shutdown()
        atexit._run_exitfuncs()
        main.__dict__.clear()
        gc.collect()
    except SystemExit as e:
        code = exit_code(e)
    except BaseException as e:
        sys.excepthook(type(e), e, e.__traceback__)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            code = 120
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def job_c(job, fds, status, proc):
    """The program: C."""
    copy_at = AT["setsid"] + 1  # in its cgroup, before its limits
    run_steps(0 if proc else AT["join cgroup"], copy_at)
    copy_code(job, fds["code"])
    run_steps(copy_at, len(STEPS))
    os.write(3, b'{"started":true}\n')
    os.close(3)
    run_main()


def job_b(job, fds, status):
    """pid 1 of the job's pid namespace: B (where there is no tiny pid 1)."""
    run_steps(0, AT["join cgroup"])  # its /proc
    c = os.fork()
    if c == 0:
        run_child(job_c, job, fds, status, False)
    for fd in fds["stdio"] + fds["prog"]:
        os.close(fd)
    # The program's own uid, as a fresh run's init has, so that it may
    # signal its pid 1 as it could elsewhere: a signal that ends a process
    # ends B, and with it the run (the program ended its own run); the
    # kernel drops the others (B is its namespace's init).
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda *_: os._exit(1))
    uid = job["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")
    while True:
        pid, st = os.wait()
        if pid == c:
            report(status, exited=True, status=st)
            os._exit(0)


def detach_scratch():
    """Detaches the last job's tmpfs and /proc (or at first the slot's),
    once its processes are all gone, and moves the zygote into a fresh
    network namespace (no interface up) for the next job's: each detach
    waits for an RCU grace period, and the supervisor's own work after a
    job hides them. The last job's network namespace, its sockets, ports
    and counters go with its last socket."""
    for path in ("/work", "/tmp", "/dev/shm", "/proc"):
        libc.umount2(path.encode(), MNT_DETACH)
    check(libc.unshare(CLONE_NEWNET), "unshare net")


def prepare(job):
    """Fresh scratch space for the next job, in the slot's mount namespace:
    new tmpfs over the detached ones (its /proc is the job's own to mount).
    Returns the job's Landlock ruleset, or -1."""
    uid, size, inodes = job["uid"], job["scratchBytes"], job["scratchInodes"]
    for path, mode in (("/work", "0700"), ("/tmp", "1777"), ("/dev/shm", "1777")):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=%d,nr_inodes=%d,mode=%s,uid=%d,gid=%d" % (size, inodes, mode, uid, uid))
    return landlock_ruleset(SETUP["landlock"]) if SETUP["landlock"] else -1


def clone_b():
    """Clones B into new pid and IPC namespaces in one system call: B then
    forks C with os.fork, which does the interpreter's after-fork work."""
    return check(libc.syscall(NR["clone"], CLONE_NEWPID | CLONE_NEWIPC | signal.SIGCHLD, 0, 0, 0, 0), "clone")


def run_child(step, job, fds, status, *args):
    """Runs one step in a child; a failure is reported, never raised."""
    try:
        if not spawn[0]:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        step(job, fds, status, *args)
    except SystemExit:
        raise
    except BaseException as e:
        msg = "%s: %s" % (step.__doc__.split(":")[0], e)
        for fd in (status, 3):  # 3 once the status channel is there
            try:
                report(fd, error=msg)
                break
            except OSError:
                pass
        os._exit(1)


PID1 = "/.slot/pid1"  # the tiny pid 1, where the slot has one (pid1.go)
spawn = [False]  # whether runs use it


def spawn_job(job, got, status, own):
    """Runs a job with the tiny pid 1: new pid and IPC namespaces for the
    zygote's children, B spawned (no copy of the interpreter) as their
    init, C forked as pid 2; then the zygote's own namespaces again. It
    waits for C, reports how it ended and kills B, which ends every other
    process of the job that the supervisor has not killed already."""
    check(libc.unshare(CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    try:
        try:
            b = os.posix_spawn(PID1, ["pid1"], {})
        except OSError:
            spawn[0] = False  # it cannot run here: clone B for the next runs
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)
            raise
        c = os.fork()
        if c == 0:
            run_child(job_c, job, got, status, True)
    finally:
        check(libc.setns(own[0], CLONE_NEWPID), "setns pid")
        check(libc.setns(own[1], CLONE_NEWIPC), "setns ipc")
    _, st = os.waitpid(c, 0)
    os.write(status, b'{"exited":true,"status":%d}\n' % st)
    os.kill(b, signal.SIGKILL)
    os.waitpid(b, 0)


def warm_up():
    """Runs a little of what every run runs, so that each fork finds it
    ready rather than doing it again."""
    exec(compile("print(1, end='')\nx = [i for i in range(3)]\n", "<warm-up>", "exec"), {"print": lambda *a, **k: None})


def serve(sock):
    sock.set_inheritable(False)  # never to the pid 1s it spawns
    try:
        if SETUP["cpu"] >= 0:
            os.sched_setaffinity(0, {SETUP["cpu"]})  # and so its forks
    except OSError:
        pass  # the CPU went away: run anywhere
    warm_up()
    as_python3_main()
    spawn[0] = os.path.exists(PID1)
    own = [os.open("/.slot/proc/self/ns/" + ns, os.O_RDONLY) for ns in ("pid", "ipc")]
    if not spawn[0]:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the B processes reap themselves
    detach_scratch()
    gc.collect()
    gc.freeze()  # keep the forks' pages shared
    libc.malloc_trim(0)  # and as few as can be
    sock.send(b'{"ready":true}')
    fd_size = array.array("i").itemsize
    while True:
        # A job's settings only, in a fresh private buffer.
        msg, anc, _, _ = sock.recvmsg(64 << 10, socket.CMSG_SPACE(64 * fd_size), socket.MSG_CMSG_CLOEXEC)
        if not msg:
            os._exit(0)
        fds = array.array("i")
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fd_size])
        fds = fds.tolist()
        job = json.loads(msg)
        got = {"stdio": fds[0:3], "code": fds[4], "prog": fds[5:], "ruleset": -1}
        status = fds[3]
        try:
            got["ruleset"] = prepare(job)
            fill_steps(job, got, status)
            # Nothing of the zygote's for the run's collector to walk: a
            # collection that walked them would copy every page they are on.
            gc.freeze()
            if spawn[0]:
                spawn_job(job, got, status, own)
            elif clone_b() == 0:
                run_child(job_b, job, got, status)
        except OSError as e:
            report(status, error="prepare: %s" % e)
        if got["ruleset"] >= 0:
            os.close(got["ruleset"])
        for fd in fds:
            os.close(fd)
        detach_scratch()


serve(socket.socket(fileno=3))
