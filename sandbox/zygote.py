# The zygote of a warm sandbox slot (see warm.go): Python started once in
# the slot's namespaces, as the slot's uid 0, that forks one job at a time.
# Its argument is the slot's setup (JSON, zygoteSetup in warmrun.go): the
# steps of the policy (policy.go) that each job's processes carry out, the
# seccomp filter and the Landlock rules, the same for every job. It carries
# the steps out as they are and decides nothing. For each job it receives
# on fd 3 a JSON config (uid, limits, the scratch mounts) and descriptors
# (stdin, stdout, stderr, a status channel, a sealed memory file with the
# code, the files that join the job's cgroup), mounts fresh scratch tmpfs
# over the last job's, and then (spawn_job) enters new pid and IPC
# namespaces for its children, spawns the tiny pid 1 there
# (pid1_amd64.go) and forks
#   C: pid 2; carries out the setup's program: mounts a /proc for the
#      namespace, joins the job's cgroup, copies its code to /work/main.py,
#      drops every privilege, installs Landlock and the seccomp filter;
#      then runs the code as __main__ as `python3 main.py` would.
# It waits for C, reports how it ended and kills the pid 1, which ends
# every other process of the job (the supervisor kills them too, through
# the job's cgroup). Before a job whose last one made a socket, it moves
# itself into a fresh network namespace (the supervisor says so). Where
# there is no tiny pid 1 (not x86-64) it clones B instead, a copy of
# itself, as the pid 1 that forks C.
# Nothing here holds a secret, nor ever a job's code, input or output: it
# passes their descriptors on unread (the kernel copies the code, in C).
# A job runs as another uid, in a pid namespace where the zygote does not
# exist, and never sees fd 3.
import array, atexit, base64, builtins, ctypes, gc, io, json, os, signal, socket, sys, types
from importlib.machinery import SourceFileLoader

libc = ctypes.CDLL(None, use_errno=True)
PYPY = sys.implementation.name == "pypy"
# CPython's collector can leave the zygote's objects alone (PyPy's moves
# them, and has no such call).
freeze = getattr(gc, "freeze", lambda: None)
O_PATH = getattr(os, "O_PATH", 0o10000000)  # PyPy's os lacks it
libc.syscall.restype = ctypes.c_long
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000


def check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return r


def report(fd, **msg):
    os.write(fd, (json.dumps(msg) + "\n").encode())


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class PathBeneath(ctypes.Structure):
    _layout_ = "ms"  # with _pack_, as 3.14 asks (earlier ones ignore it)
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


SETUP = json.loads(sys.argv[1])
NR = SETUP["syscalls"]  # the numbers of the calls the zygote makes itself
_filter = base64.b64decode(SETUP["filter"])
FILTER = ctypes.create_string_buffer(_filter, len(_filter))
FPROG = SockFprog(len(_filter) // 8, ctypes.addressof(FILTER))


class Step(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_long), ("args", ctypes.c_long * 6), ("res", ctypes.c_long)]


class Table:
    """Steps of the policy as the step runner takes them: a table of
    Step, the name of each (for errors), and the arguments that refer to a
    job's own values (stepArg.Ref in policy.go), which fill sets."""

    def __init__(self, steps, fixed):
        self.steps = (Step * max(len(steps), 1))()
        self.addr = ctypes.addressof(self.steps)
        # The table as words, which Python sets without ctypes (whose every
        # access costs PyPy microseconds): step i's at 8 * i.
        self.words = w = memoryview(self.steps).cast("B").cast("Q")
        self.names = [st["what"] for st in steps]
        self.refs, self.keep = [], []  # keep: what the steps point to
        for i, st in enumerate(steps):
            w[8 * i] = st["nr"]
            for j, a in enumerate(st.get("args") or ()):
                at = 8 * i + 1 + j
                if "b" in a:
                    b = ctypes.create_string_buffer(base64.b64decode(a["b"]))
                    self.keep.append(b)
                    w[at] = ctypes.addressof(b)
                elif a.get("ref") in fixed:
                    w[at] = fixed[a["ref"]][a.get("k", 0)]
                elif "ref" in a:
                    self.refs.append((at, a["ref"], a.get("k", 0)))
                else:
                    w[at] = a.get("n", 0)

    def fill(self, values):
        w = self.words
        for at, name, k in self.refs:
            v = values.get(name, ())
            if k >= len(v):
                raise OSError(22, "the job has no %s %d" % (name, k))
            w[at] = v[k]

    def result(self, i):
        """What step i returned."""
        return self.words[8 * i + 7]

    def run(self, first=0, last=None):
        """Runs steps first to last (exclusive); raises OSError naming the
        step that failed."""
        last = len(self.names) if last is None else last
        steps = self.steps
        if RUNNER:
            done = first + RUNNER(self.addr + first * 64, last - first)
        else:
            done = first
            while done < last:
                st = steps[done]
                st.res = SYSCALL(st.nr, *st.args)
                if st.res < 0:
                    st.res = -ctypes.get_errno()
                    break
                done += 1
        self.failed = done
        if done < last:
            err = (1 << 64) - self.result(done)
            raise OSError(err, "%s: %s" % (self.names[done], os.strerror(err)))


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class CmsgRights(ctypes.Structure):  # one descriptor, padded to CMSG_SPACE
    _fields_ = [("len", ctypes.c_size_t), ("level", ctypes.c_int), ("type", ctypes.c_int),
                ("fd", ctypes.c_int), ("pad", ctypes.c_int)]


# C hands the seccomp filter's listener to the supervisor (serveNetlinkCap
# in status.go) with a status message, on the status channel (3).
LISTENER_FD = SETUP["listenerFD"]
_text = ctypes.create_string_buffer(b'{"listener":true}\n', 18)
_iov = Iovec(ctypes.addressof(_text), 18)
_rights = CmsgRights(20, socket.SOL_SOCKET, socket.SCM_RIGHTS, LISTENER_FD, 0)
LISTENER_MSG = Msghdr(None, 0, ctypes.addressof(_iov), 1, ctypes.addressof(_rights), ctypes.sizeof(_rights), 0)

RLIMITS = ((ctypes.c_uint64 * 2) * 16)()
RLIMIT_WORDS = memoryview(RLIMITS).cast("B").cast("Q")  # limit k's {cur, max} at 2 * k

if PYPY:
    try:
        import _cffi_backend as cffi  # PyPy's own: its calls cost a fraction of ctypes'
    except ImportError:
        cffi = None


def function(addr, nargs, ret="long"):
    """The machine code at addr as a C function of nargs longs (ints,
    addresses) that returns a long or an int."""
    if PYPY and cffi:
        arg = cffi.new_primitive_type("long")
        return cffi.cast(cffi.new_function_type((arg,) * nargs, cffi.new_primitive_type(ret), False), addr)
    return ctypes.CFUNCTYPE(getattr(ctypes, "c_" + ret), *[ctypes.c_long] * nargs)(addr)


libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def anon_pages(n):
    """The address of n fresh bytes of private memory, readable and
    writable, or None."""
    addr = libc.mmap(None, n, 3, 0x22, -1, 0)  # PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    return None if addr in (None, ctypes.c_void_p(-1).value) else addr


def load_runner(code):
    """The step runner (steprunner_amd64.go) as a function, or None where there is
    none."""
    if not code:
        return None
    code = base64.b64decode(code)
    addr = anon_pages(4096)
    if addr is None:
        return None
    ctypes.memmove(addr, code, len(code))
    check(libc.mprotect(ctypes.c_void_p(addr), 4096, 5), "mprotect")  # PROT_READ|PROT_EXEC
    return function(addr, 2)


RUNNER = load_runner(SETUP["runner"])
SYSCALL = ctypes.CFUNCTYPE(ctypes.c_long, *[ctypes.c_long] * 7, use_errno=True)(("syscall", libc))
FIXED = {"filter": [ctypes.addressof(FPROG)], "listenerMsg": [ctypes.addressof(LISTENER_MSG)],
         "rlimit": [ctypes.addressof(r) for r in RLIMITS]}
PROGRAM = Table(SETUP["program"], FIXED)  # C's
B_STEPS = Table(SETUP["pid1"], FIXED)  # B's
DETACH = Table(SETUP["detach"], {})  # the zygote's, after each job


def steps(*calls):
    """A table of the zygote's own calls: (what, name, args), the
    arguments numbers or refs ("ruleset"), the name one of NR's."""
    return Table([{"what": what, "nr": NR[name], "args": [a if isinstance(a, dict) else {"n": a} for a in args]}
                  for what, name, args in calls], {})


class Landlock:
    """The supervisor's Landlock rules (handled rights, scopes, and [path,
    rights] pairs) as the calls that make a ruleset of them, made once.
    Landlock ignores rules on a mount point's covered directory, so each
    job's ruleset (ruleset) is made after its tmpfs are mounted."""

    def __init__(self, rules):
        self.attr = RulesetAttr(rules["handled"], 0, rules["scoped"])
        size = ctypes.sizeof(self.attr) if rules["scoped"] else 8  # what ABIs before 6 know
        self.create = steps(("landlock", "landlock_create_ruleset", (ctypes.addressof(self.attr), size, 0)))
        self.paths = [p["path"] for p in rules["paths"]]
        self.beneath = (PathBeneath * len(self.paths))()
        for i, p in enumerate(rules["paths"]):
            self.beneath[i].allowed = p["rights"]
        self.parent_fds = memoryview(self.beneath).cast("B").cast("i")  # each rule's at 3 * i + 2
        at, size = ctypes.addressof(self.beneath), ctypes.sizeof(PathBeneath)
        self.add = steps(*[("landlock " + path, "landlock_add_rule", ({"ref": "ruleset"}, 1, at + i * size, 0))
                           for i, path in enumerate(self.paths)])

    def ruleset(self):
        """A new ruleset's fd."""
        self.create.run()
        fd, fds = self.create.result(0), []
        try:
            for i, path in enumerate(self.paths):
                fds.append(os.open(path, O_PATH | os.O_CLOEXEC))
                self.parent_fds[3 * i + 2] = fds[-1]
            self.add.fill({"ruleset": [fd]})
            self.add.run()
        except BaseException:
            os.close(fd)
            raise
        finally:
            for f in fds:
                os.close(f)
        os.set_inheritable(fd, False)
        return fd


LANDLOCK = SETUP["landlock"] and Landlock(SETUP["landlock"])
SCRATCH = {}  # the jobs' scratch steps (the same for the same limits) as tables


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
        if nul >= 0 and sys.version_info < (3, 12) and sys.implementation.name == "cpython":
            # As CPython 3.11 reads a script: each line ends at its first NUL.
            source = b"\n".join(line.split(b"\0", 1)[0] for line in source.split(b"\n"))
        elif nul >= 0:  # as 3.12 and PyPy refuse one
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
    if PYPY and code >= 0:
        # PyPy's own exit tears nothing down (it waits for threads, runs
        # atexit, flushes every open file): the SystemExit ends the
        # interpreter, unwinding no frame of the zygote's that does more
        # (nothing catches it, no finally runs in C's).
        raise SystemExit(code)
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


def run_atexit():
    """Calls atexit's callbacks as the interpreter's exit does: an error in
    one is reported with no traceback (there, no frame is running; here,
    the report would add this one)."""
    me, hook = sys._getframe(), sys.unraisablehook

    def report(args):
        tb = args.exc_traceback
        while tb is not None and tb.tb_frame is me:
            tb = tb.tb_next
        hook(type(args)((args.exc_type, args.exc_value, tb, args.err_msg, args.object)))
    sys.unraisablehook = report
    try:
        atexit._run_exitfuncs()
    finally:
        sys.unraisablehook = hook


def shutdown(main, code):
    """What the interpreter does at exit, less the teardown of the
    zygote's own objects (shared pages: tearing them down would copy them
    all): wait for threads, run atexit, finalize the program's objects,
    flush the standard streams."""
    try:
        threading = sys.modules.get("threading")
        if threading:
            threading._shutdown()
        run_atexit()
        main.__dict__.clear()
        # PyPy flushes its open files at exit: its collection finalizes
        # them here (walking, and so copying, the zygote's whole heap).
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
    copy_at = SETUP["copyAt"]
    PROGRAM.run(0 if proc else SETUP["procEnd"], copy_at)
    copy_code(job, fds["code"])
    PROGRAM.run(copy_at)
    reseed()
    if job.get("unbuffered"):
        unbuffer()
    os.write(3, b'{"started":true}\n')
    os.close(3)
    run_main()


def unbuffer():
    """Makes stdout and stderr as python3 -u (PYTHONUNBUFFERED) has them:
    written through to unbuffered files, line-buffered as well on PyPy; and
    the variable for the program's own children."""
    os.environ["PYTHONUNBUFFERED"] = "1"
    line = sys.implementation.name == "pypy"

    def text(fd):
        return io.TextIOWrapper(io.FileIO(fd, "wb", closefd=False), encoding="utf-8",
                                errors="backslashreplace" if fd == 2 else "strict",
                                line_buffering=line, write_through=True)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__ = text(1), text(2)


def reseed():
    """Seeds afresh what a module the runtime preloads (a .pth file's
    import, before the zygote's code) seeded once for every fork: numpy's
    global generator, where its numpy.random was imported. The random
    module reseeds itself at fork."""
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        np_random.seed()


def job_b(job, fds, status):
    """pid 1 of the job's pid namespace: B (where there is no tiny pid 1)."""
    PROGRAM.run(0, SETUP["procEnd"])  # its /proc
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
    B_STEPS.run()
    while True:
        pid, st, ru = os.wait3(0)
        if pid == c:
            report(status, exited=True, status=st, maxrss=ru.ru_maxrss)
            os._exit(0)


def detach_scratch():
    """Carries out the setup's detach steps (detachSteps in warmrun.go):
    each detach waits for an RCU grace period, and the supervisor's own
    work after a job hides them."""
    first = 0
    while True:
        try:
            return DETACH.run(first)
        except OSError:
            first = DETACH.failed + 1  # nothing was mounted there
            if first == len(DETACH.names):
                raise


def scratch(steps):
    """The table of a job's scratch steps, made once for each limit."""
    key = repr(steps)
    table = SCRATCH.get(key)
    if table is None:
        if len(SCRATCH) >= 16:
            SCRATCH.clear()
        table = SCRATCH[key] = Table(steps, {})
    return table


def prepare(job, got, status):
    """A fresh network namespace where the last job made a socket (the
    supervisor says), fresh scratch space for the next job, in the slot's
    mount namespace (the job's scratch steps: new tmpfs over the detached
    ones; its /proc is the job's own to mount), its Landlock ruleset, and
    its values in C's steps."""
    if job.get("freshNet"):
        NEW_NET.run()
    scratch(job["scratch"]).run()
    if LANDLOCK:
        got["ruleset"] = LANDLOCK.ruleset()
    rl = job["rlimits"]
    if len(rl) > len(RLIMITS):
        raise OSError(22, "%d limits" % len(rl))
    for k, v in enumerate(rl):
        RLIMIT_WORDS[2 * k] = RLIMIT_WORDS[2 * k + 1] = v
    PROGRAM.fill({"cgroup": got["prog"], "stdio": got["stdio"] + [status], "ruleset": [got["ruleset"]]})


def clone_b():
    """Clones B into new pid and IPC namespaces in one system call: B then
    forks C with os.fork, which does the interpreter's after-fork work."""
    return check(libc.syscall(NR["clone"], CLONE_NEWPID | CLONE_NEWIPC | signal.SIGCHLD, 0, 0, 0, 0), "clone")


def run_child(step, job, fds, status, *args):
    """Runs one step in a child; a failure is reported, never raised."""
    try:
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


PID1 = "/.slot/pid1"  # the tiny pid 1, where the slot has one (pid1_amd64.go)
spawn = [False]  # whether runs use it


class Spawn:
    """libc's posix_spawn of the tiny pid 1, for PyPy, which has no
    os.posix_spawn: its arguments made once."""

    def __init__(self):
        self.pid = (ctypes.c_int * 1)()
        self.pids = memoryview(self.pid).cast("B").cast("i")
        self.path = ctypes.create_string_buffer(PID1.encode())
        self.argv, self.envp = (ctypes.c_char_p * 2)(b"pid1", None), (ctypes.c_char_p * 1)(None)
        self.call = function(ctypes.cast(libc.posix_spawn, ctypes.c_void_p).value, 6, "int")
        self.args = [ctypes.addressof(x) for x in (self.pid, self.path)] + [0, 0] + [ctypes.addressof(x) for x in (self.argv, self.envp)]

    def __call__(self):
        e = self.call(*self.args)
        if e:
            raise OSError(e, "posix_spawn: %s" % os.strerror(e))
        return self.pids[0]


def spawn_pid1():
    """Spawns the tiny pid 1 (no copy of the interpreter)."""
    return os.posix_spawn(PID1, ["pid1"], {})


if not hasattr(os, "posix_spawn"):
    spawn_pid1 = Spawn()
NEW_NAMESPACES = steps(("unshare", "unshare", (CLONE_NEWPID | CLONE_NEWIPC,)))
NEW_NET = steps(("unshare net", "unshare", (CLONE_NEWNET,)))


def spawn_job(job, got, status, own):
    """Runs a job with the tiny pid 1: new pid and IPC namespaces for the
    zygote's children, B spawned (no copy of the interpreter) as their
    init, C forked as pid 2; then the zygote's own namespaces again. It
    waits for C, reports how it ended and kills B, which ends every other
    process of the job that the supervisor has not killed already."""
    NEW_NAMESPACES.run()
    try:
        try:
            b = spawn_pid1()
        except OSError:
            spawn[0] = False  # it cannot run here: clone B for the next runs
            raise
        c = os.fork()
    except BaseException:
        own.run()
        raise
    if c == 0:  # outside any try: C's exit may unwind (run_main)
        run_child(job_c, job, got, status, True)
    own.run()
    _, st, ru = os.wait4(c, 0)
    os.write(status, b'{"exited":true,"status":%d,"maxrss":%d}\n' % (st, ru.ru_maxrss))
    os.kill(b, signal.SIGKILL)
    os.waitpid(b, 0)


def warm_up():
    """Runs a little of what every run runs, so that each fork finds it
    ready rather than doing it again."""
    exec(compile("print(1, end='')\nx = [i for i in range(3)]\n", "<warm-up>", "exec"), {"print": lambda *a, **k: None})


HUGE = 2 << 20  # a huge page's size
MADV_COLLAPSE, MREMAP_MAYMOVE_FIXED, SIG_SETMASK = 25, 3, 2


def mappings():
    """The zygote's private readable mappings, from /proc: (start, end,
    perms, path)."""
    for line in read_file("/.slot/proc/self/maps").decode().splitlines():
        f = line.split()
        if f[1][0] == "r" and f[1][3] == "p":
            start, end = (int(x, 16) for x in f[0].split("-"))
            yield start, end, f[1], f[5] if len(f) > 5 else ""


def hugify():
    """Backs each 2 MiB of the zygote's memory that it has wholly mapped
    with a huge page: of its own (heap, arenas) and of the private
    mappings of its files (the interpreter's code and data), the latter
    replaced by an anonymous copy first. A fork copies one page table entry
    for it instead of 512, a run finds the code mapped and its exit drops
    as few entries (a run's write to a huge page maps that one in small
    pages, for the run alone). Only what the zygote had mapped whole: a
    run then has mapped nothing that its own use would not have mapped
    anyway, beyond what the zygote's own work did (the package doc's
    parity of memory)."""
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.madvise(None, 0, MADV_COLLAPSE) != 0:
        return  # no huge pages to be had (before Linux 6.1): copies would cost forks more
    pagemap = os.open("/.slot/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for start, end, perms, path in list(mappings()):
            if path not in ("", "[heap]") and not path.startswith("/"):
                continue  # the stack, the vdso
            for at in range((start + HUGE - 1) & ~(HUGE - 1), end & ~(HUGE - 1), HUGE):
                entries = os.pread(pagemap, HUGE // 4096 * 8, at // 4096 * 8)
                if len(entries) == HUGE // 512 and all(b & 0x80 for b in entries[7::8]):  # each page present
                    if not path.startswith("/") or anonymize(at, at + HUGE, perms):
                        libc.madvise(at, HUGE, MADV_COLLAPSE)  # where the kernel can: else small pages stay
    finally:
        os.close(pagemap)


def anonymize(start, end, perms):
    """Replaces a private file mapping by an anonymous copy of it, in calls
    that the step runner makes with signals held off: the interpreter
    writes to its data, and a write between the copy and the move would
    be lost. Says whether it did."""
    n = end - start
    tmp = anon_pages(n) if RUNNER else None
    if tmp is None:
        return False
    iov = (ctypes.c_uint64 * 4)(tmp, n, start, n)
    masks = (ctypes.c_uint64 * 2)((1 << 64) - 1, 0)  # all; what was held before
    at, m = ctypes.addressof(iov), ctypes.addressof(masks)
    prot = sum(bit for c, bit in zip(perms, (1, 2, 4)) if c != "-")
    copy = ("copy", "process_vm_readv", (os.getpid(), at, 1, at + 16, 1, 0))
    moved = False
    try:
        t = steps(copy)  # first on its own: every page of it can be read
        t.run()
        if t.result(0) == n:
            t = steps(("hold signals", "rt_sigprocmask", (SIG_SETMASK, m, m + 8, 8)), copy,
                      ("protect", "mprotect", (tmp, n, prot)), ("move", "mremap", (tmp, n, n, MREMAP_MAYMOVE_FIXED, start)))
            try:
                t.run()
                moved = True
            finally:
                if t.failed > 0:
                    steps(("release signals", "rt_sigprocmask", (SIG_SETMASK, m + 8, 0, 8))).run()
    except OSError:
        pass
    if not moved:
        libc.munmap(tmp, n)
    return moved


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
    # What takes the zygote's children back to its own pid and IPC namespaces.
    own = steps(*[("setns " + ns, "setns", (os.open("/.slot/proc/self/ns/" + ns, os.O_RDONLY), flag))
                  for ns, flag in (("pid", CLONE_NEWPID), ("ipc", CLONE_NEWIPC))])
    detach_scratch()
    NEW_NET.run()  # one of its own, which no job has touched
    gc.collect()
    freeze()  # keep the forks' pages shared
    libc.malloc_trim(0)  # and as few as can be
    hugify()  # after all else: what it maps whole now is what forks share
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
            prepare(job, got, status)
            # Nothing of the zygote's for the run's collector to walk: a
            # collection that walked them would copy every page they are on.
            freeze()
            if spawn[0]:
                spawn_job(job, got, status, own)
            else:
                b = clone_b()
                if b == 0:
                    run_child(job_b, job, got, status)
                os.waitpid(b, 0)  # the job's end: B ends when C does
        except OSError as e:
            report(status, error="prepare: %s" % e)
        if got["ruleset"] >= 0:
            os.close(got["ruleset"])
        for fd in fds:
            os.close(fd)
        detach_scratch()


serve(socket.socket(fileno=3))
