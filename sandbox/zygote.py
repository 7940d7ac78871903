# The zygote of a warm sandbox slot (see warm.go): Python started once in
# the slot's namespaces, as the slot's uid 0, that forks one job at a time.
# Its argument is the slot's setup (JSON): the seccomp filter and the
# Landlock rules, the same for every job. For each job it receives on fd 3
# a JSON config and descriptors (stdin,
# stdout, stderr, a status pipe, the job cgroup's cgroup.procs files),
# mounts fresh scratch tmpfs over the last job's, and then (spawn_job)
# enters new pid and IPC namespaces for its children, spawns the tiny pid 1
# there (pid1.go) and forks
#   C: pid 2; mounts a /proc for the namespace, joins the job's cgroup,
#      drops every privilege, installs Landlock and the seccomp filter, and
#      runs the code as __main__ as `python3 main.py` would.
# It waits for C, reports how it ended and kills the pid 1, which ends
# every other process of the job. Where there is no tiny pid 1 (not
# x86-64) it clones B instead, a copy of itself, as the pid 1 that forks C.
# Nothing here holds a secret. A job runs as another uid, in a pid
# namespace where the zygote does not exist, and never sees fd 3.
import base64, builtins, ctypes, gc, io, json, os, resource, signal, socket, sys, types
from importlib.machinery import SourceFileLoader

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWPID = 0x02000000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 38, 47
SYS_CLONE, SYS_SECCOMP, SYS_LL_CREATE, SYS_LL_ADD, SYS_LL_RESTRICT = 56, 317, 444, 445, 446
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


def landlock_ruleset(rules):
    """A Landlock ruleset fd from the supervisor's rules: handled rights,
    and [path, rights] pairs. Landlock ignores rules on a mount point's
    covered directory, so each job's is made after its tmpfs are mounted."""
    handled = ctypes.c_uint64(rules["handled"])
    fd = check(libc.syscall(SYS_LL_CREATE, ctypes.byref(handled), ctypes.c_size_t(8), 0), "landlock")
    for path, rights in rules["paths"]:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            attr = PathBeneath(rights, pfd)
            check(libc.syscall(SYS_LL_ADD, fd, 1, ctypes.byref(attr), 0), "landlock " + path)
        finally:
            os.close(pfd)
    os.set_inheritable(fd, False)
    return fd


SETUP = json.loads(sys.argv[1])
_filter = base64.b64decode(SETUP["filter"])
FILTER = ctypes.create_string_buffer(_filter, len(_filter))
FPROG = SockFprog(len(_filter) // 8, ctypes.addressof(FILTER))


def drop_privileges(uid):
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # leaving uid 0 clears the capabilities
    for args in ((PR_CAP_AMBIENT, 4), (PR_SET_DUMPABLE, 0), (PR_SET_NO_NEW_PRIVS, 1)):
        check(libc.prctl(args[0], args[1], 0, 0, 0), "prctl")


def std_streams():
    """sys.stdin, stdout and stderr as a fresh `python3` makes them: made
    in the zygote (fds 0-2 are the run's in C by then), not in each run."""
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


def make_streams():
    def text(fd, mode, line):
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
        tty = raw.isatty()
        return io.TextIOWrapper(buf, encoding="utf-8", errors="backslashreplace" if fd == 2 else "strict",
                                line_buffering=line or tty, write_through=(fd == 2))
    return text(0, "rb", False), text(1, "wb", False), text(2, "wb", True)


def run_main(path, argv0):
    """Runs path as __main__, then exits as the interpreter would; never
    returns."""
    main = types.ModuleType("__main__")
    main.__file__, main.__builtins__, main.__cached__ = path, builtins, None
    main.__loader__ = SourceFileLoader("__main__", path)
    sys.modules["__main__"] = main
    sys.argv, sys.orig_argv = ["main.py"], [argv0, "main.py"]
    sys.path[0] = os.path.dirname(path)
    code = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
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
        import atexit
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


def job_c(job, fds, status):
    """The program: C."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in fds["prog"]:
        os.write(fd, b"0")
    check(libc.unshare(CLONE_NEWCGROUP), "unshare cgroup")
    os.setsid()
    for r in job["rlimits"]:
        resource.setrlimit(r["resource"], (r["value"], r["value"]))
    drop_privileges(job["uid"])
    for i, fd in enumerate(fds["stdio"]):
        os.dup2(fd, i)
    keep = 3
    os.dup2(status, keep)
    os.chdir("/work")
    if fds["ruleset"] >= 0:
        check(libc.syscall(SYS_LL_RESTRICT, fds["ruleset"], 0), "landlock")
    os.closerange(keep + 1, 1 << 20)
    check(libc.syscall(SYS_SECCOMP, 1, 0, ctypes.byref(FPROG)), "seccomp")
    report(keep, started=True)
    os.close(keep)
    std_streams()
    run_main("/work/main.py", job["argv0"])


def mount_proc():
    """A /proc for the job's pid namespace, /proc/sys read-only; by a
    process inside it."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
    mount("", "/proc/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def job_b(job, fds, status):
    """pid 1 of the job's pid namespace: B (where there is no tiny pid 1)."""
    mount_proc()
    c = os.fork()
    if c == 0:
        run_child(job_c, job, fds, status)
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


def prepare(job):
    """Fresh scratch space for the next job, in the slot's mount namespace:
    the last job's tmpfs and /proc (or at first the slot's) are detached,
    new tmpfs mounted (its /proc is the job's own to mount). Returns the
    job's Landlock ruleset, or -1."""
    for path in ("/work", "/tmp", "/dev/shm", "/proc"):
        libc.umount2(path.encode(), MNT_DETACH)
    uid, size, inodes = job["uid"], job["scratchBytes"], job["scratchInodes"]
    for path, mode in (("/work", "0700"), ("/tmp", "1777"), ("/dev/shm", "1777")):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=%d,nr_inodes=%d,mode=%s,uid=%d,gid=%d" % (size, inodes, mode, uid, uid))
    fd = os.open("/work/main.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    os.write(fd, base64.b64decode(job["code"]))
    os.fchown(fd, uid, uid)
    os.close(fd)
    return landlock_ruleset(SETUP["landlock"]) if SETUP["landlock"] else -1


def clone_b():
    """Clones B into new pid and IPC namespaces in one system call: B then
    forks C with os.fork, which does the interpreter's after-fork work."""
    return check(libc.syscall(SYS_CLONE, CLONE_NEWPID | CLONE_NEWIPC | signal.SIGCHLD, 0, 0, 0, 0), "clone")


def run_child(step, job, fds, status, proc=False):
    """Runs one step in a child; a failure is reported, never raised."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if proc:
            mount_proc()
        step(job, fds, status)
    except SystemExit:
        raise
    except BaseException as e:
        try:
            report(status, error="%s: %s" % (step.__doc__.split(":")[0], e))
        finally:
            os._exit(1)


PID1 = "/.slot/pid1"  # the tiny pid 1, where the slot has one (pid1.go)
spawn = [False]  # whether runs use it


def spawn_job(job, got, status, sock, own):
    """Runs a job with the tiny pid 1: new pid and IPC namespaces for the
    zygote's children, B spawned (no copy of the interpreter) as their
    init, C forked as pid 2; then the zygote's own namespaces again. It
    waits for C, reports how it ended and kills B, which ends every other
    process of the job."""
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
            sock.close()
            run_child(job_c, job, got, status, proc=True)
    finally:
        check(libc.setns(own[0], CLONE_NEWPID), "setns pid")
        check(libc.setns(own[1], CLONE_NEWIPC), "setns ipc")
    for fd in got["stdio"] + got["prog"]:
        os.close(fd)
    _, st = os.waitpid(c, 0)
    report(status, exited=True, status=st)
    os.kill(b, signal.SIGKILL)
    os.waitpid(b, 0)


def warm_up():
    """Runs a little of what every run runs, so that each fork finds it
    ready rather than doing it again."""
    exec(compile("print(1, end='')\nx = [i for i in range(3)]\n", "<warm-up>", "exec"), {"print": lambda *a, **k: None})


def serve(sock):
    global streams
    sock.set_inheritable(False)  # never to the pid 1s it spawns
    streams = make_streams()
    warm_up()
    spawn[0] = os.path.exists(PID1)
    own = [os.open("/.slot/proc/self/ns/" + ns, os.O_RDONLY) for ns in ("pid", "ipc")]
    if not spawn[0]:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the B processes reap themselves
    gc.freeze()  # keep the forks' pages shared
    sock.send(b'{"ready":true}')
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 16 << 20, 64)
        if not msg:
            os._exit(0)
        for fd in fds:
            os.set_inheritable(fd, False)
        job = json.loads(msg)
        got = {"stdio": fds[0:3], "prog": fds[4:], "ruleset": -1}
        status = fds[3]
        try:
            got["ruleset"] = prepare(job)
            # Nothing of the zygote's for the run's collector to walk: a
            # collection that walked them would copy every page they are on.
            gc.freeze()
            if spawn[0]:
                spawn_job(job, got, status, sock, own)
            elif clone_b() == 0:
                sock.close()
                run_child(job_b, job, got, status)
        except OSError as e:
            report(status, error="prepare: %s" % e)
        if got["ruleset"] >= 0:
            os.close(got["ruleset"])
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


serve(socket.socket(fileno=3))
