//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// TestOrdinaryPrograms: a sandbox that breaks normal Python is wrong too,
// and bad input gets a verdict, never a hang.
func TestOrdinaryPrograms(t *testing.T) { ordinaryPrograms(t, cold) }

func ordinaryPrograms(t *testing.T, m mode) {
	sandboxFor(t)
	lines := strings.Repeat("3\n", 100000)
	big := strings.Repeat("x", 30<<20)
	// CPython 3.11 reads a script up to each line's NUL; 3.12 and PyPy
	// refuse it.
	nulVerdict, nulStdout, nulStderr := onpyrunner.OK, "1\n", ""
	if v := m.version(t); !strings.HasPrefix(v, "3.11.") || m.pypy() {
		nulVerdict, nulStdout, nulStderr = onpyrunner.RuntimeError, "", "source code cannot contain null bytes"
	}
	cases := []struct {
		name, code, stdin string
		verdict           onpyrunner.Verdict
		stdout            string // exact, unless contains is set
		contains          string // in stdout+stderr
	}{
		{name: "hello", code: "print('hello')", verdict: onpyrunner.OK, stdout: "hello\n"},
		{name: "threads", code: "import threading\nout = []\nts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sum(out))", verdict: onpyrunner.OK, stdout: "140\n"},
		{name: "subprocess", code: "import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout, end='')", verdict: onpyrunner.OK, stdout: "42\n"},
		{name: "multiprocessing", code: "import multiprocessing as mp\ndef sq(x):\n return x * x\nif __name__ == '__main__':\n with mp.Pool(4) as p:\n  print(sum(p.map(sq, range(100))))", verdict: onpyrunner.OK, stdout: "328350\n"},
		{name: "multiprocessing queue", code: "import multiprocessing as mp\ndef w(q):\n q.put('from child')\nif __name__ == '__main__':\n q = mp.Queue()\n p = mp.Process(target=w, args=(q,))\n p.start()\n print(q.get())\n p.join()", verdict: onpyrunner.OK, stdout: "from child\n"},
		{name: "tempfile", code: "import tempfile, os\nwith tempfile.TemporaryDirectory() as d:\n p = os.path.join(d, 'f')\n with open(p, 'w') as f:\n  f.write('kept')\n print(open(p).read())\nwith open('here.txt', 'w') as f:\n f.write('cwd')\nprint(open('here.txt').read())", verdict: onpyrunner.OK, stdout: "kept\ncwd\n"},
		// Files move between folders of the scratch space as anywhere.
		{name: "rename into a sub-folder", code: "import os, pathlib\nfor d in ('.', '/tmp'):\n os.makedirs(f'{d}/sub/deeper', exist_ok=True)\n with open(f'{d}/f', 'w') as f:\n  f.write('x')\n os.rename(f'{d}/f', f'{d}/sub/f')\n os.replace(f'{d}/sub/f', f'{d}/sub/deeper/g')\n pathlib.Path(f'{d}/sub/deeper/g').rename(f'{d}/h')\n os.rename(f'{d}/sub', f'{d}/moved')\n print(open(f'{d}/h').read(), sorted(os.listdir(f'{d}/moved')))", verdict: onpyrunner.OK, stdout: "x ['deeper']\nx ['deeper']\n"},
		// What a program writes it may run: a script, found by shutil.which.
		{name: "runs what it wrote", code: "import os, shutil, subprocess, sys\nos.makedirs('bin')\nwith open('bin/hello', 'w') as f:\n f.write(f'#!{sys.executable}\\nprint(\"from a script\")\\n')\nos.chmod('bin/hello', 0o755)\nos.environ['PATH'] = os.path.abspath('bin') + ':' + os.environ.get('PATH', '')\nprint(shutil.which('hello'))\nprint(subprocess.run(['hello'], capture_output=True, text=True).stdout, end='')", verdict: onpyrunner.OK, stdout: "/work/bin/hello\nfrom a script\n"},
		// The root is the runtime's alone: no installed packages of the
		// host, nothing setuid or setgid, a shell, and a passwd and group
		// that name root and the run's user.
		{name: "clean root", code: "import grp, os, pwd, sys\nprint(sorted(n for p in sys.path if 'packages' in p and os.path.isdir(p) for n in os.listdir(p)))\nbad = []\nfor top in ('/usr', '/bin', '/lib', '/etc'):\n for d, _, fs in os.walk(top):\n  for f in fs:\n   try:\n    if os.lstat(os.path.join(d, f)).st_mode & 0o6000:\n     bad.append(os.path.join(d, f))\n   except OSError:\n    pass\nprint(bad)\nprint(pwd.getpwuid(0).pw_name, pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)\nprint(os.system('exit 3') >> 8)", verdict: onpyrunner.OK, stdout: "[]\n[]\nroot sandbox sandbox\n3\n"},
		{name: "deep recursion", code: "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n return 0 if n == 0 else 1 + f(n - 1)\nprint(f(200000))", verdict: onpyrunner.OK, stdout: "200000\n"},
		{name: "read all stdin", code: "import sys\nprint(sum(int(x) for x in sys.stdin))", stdin: lines, verdict: onpyrunner.OK, stdout: "300000\n"},
		{name: "30 MB stdin", code: "import sys\nprint(len(sys.stdin.buffer.read()))", stdin: big, verdict: onpyrunner.OK, stdout: "31457280\n"},
		{name: "input", code: "name = input()\nprint(f'hi {name}')", stdin: "Ada\n", verdict: onpyrunner.OK, stdout: "hi Ada\n"},
		{name: "unicode", code: "s = input()\nprint(s[::-1], 'héllo ✓ 日本語 🐍', len(s))", stdin: "añb🐍\n", verdict: onpyrunner.OK, stdout: "🐍bña héllo ✓ 日本語 🐍 4\n"},
		{name: "dev stdout", code: "open('/dev/stdout', 'w').write('via dev\\n')", verdict: onpyrunner.OK, stdout: "via dev\n"},
		// No interface is up, loopback included: a run talks to itself
		// over unix sockets and pipes only.
		{name: "no loopback", code: "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\ntry:\n socket.create_connection(s.getsockname())\nexcept OSError as e:\n print(e.errno)", verdict: onpyrunner.OK, stdout: "101\n"},
		{name: "socket pair", code: "import socket\na, b = socket.socketpair()\na.sendall(b'ping')\nprint(b.recv(4).decode())", verdict: onpyrunner.OK, stdout: "ping\n"},
		{name: "stderr and exit code", code: "import sys\nprint('to err', file=sys.stderr)\nsys.exit(4)", verdict: onpyrunner.RuntimeError, contains: "to err"},
		{name: "empty code", code: "", verdict: onpyrunner.OK, stdout: ""},
		{name: "syntax error", code: "print(1", verdict: onpyrunner.RuntimeError, contains: "SyntaxError"},
		{name: "NUL in source", code: "print(1)\x00print(2)", verdict: nulVerdict, stdout: nulStdout, contains: nulStderr},
		{name: "source not UTF-8", code: "print('\xff')", verdict: onpyrunner.RuntimeError, contains: "SyntaxError"},
		{name: "NUL in output", code: "print('a\\0b')", verdict: onpyrunner.OK, stdout: "a\x00b\n"},
		{name: "output not UTF-8", code: "import sys\nsys.stdout.buffer.write(b'\\xff\\xfeok')", verdict: onpyrunner.OK, stdout: "\xff\xfeok"},
		{name: "stdin never read", code: "print('done')", stdin: big, verdict: onpyrunner.OK, stdout: "done\n"},
		{name: "EOF on input", code: "input()", verdict: onpyrunner.RuntimeError, contains: "EOFError"},
		// Ending its init ends the program's own run, nothing else.
		{name: "signals its init", code: "import os, signal, time\nos.kill(1, signal.SIGTERM)\ntime.sleep(2)\nprint('survived')", verdict: onpyrunner.RuntimeError, stdout: ""},
		{name: "uncaught exception", code: "1 / 0", verdict: onpyrunner.RuntimeError, contains: "ZeroDivisionError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdin []byte
			if c.stdin != "" {
				stdin = []byte(c.stdin)
			}
			res := m.run(t, c.code, onpyrunner.Limits{MemoryMB: m.memoryMB(onpyrunner.DefaultLimits.MemoryMB)}, stdin)
			if c.verdict == "" && res.Verdict != onpyrunner.OK && res.Verdict != onpyrunner.RuntimeError ||
				c.verdict != "" && res.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s: %s", res.Verdict, c.verdict, show(res))
			}
			if c.contains != "" {
				if !strings.Contains(res.Stdout+res.Stderr, c.contains) {
					t.Errorf("output lacks %q: %s", c.contains, show(res))
				}
			} else if res.Stdout != c.stdout {
				t.Errorf("stdout %q, want %q (stderr %q)", res.Stdout, c.stdout, res.Stderr)
			}
		})
	}
}

func TestRuntimes(t *testing.T) {
	s := sandboxFor(t)
	_, err := s.Run(context.Background(), sandbox.Spec{Runtime: "cobol", Code: []byte("print(1)")})
	if !errors.Is(err, sandbox.ErrNoRuntime) {
		t.Errorf("unknown runtime: err %v", err)
	}
	names := map[string]string{}
	for _, rt := range s.Runtimes() {
		names[rt.Name] = rt.Version
	}
	if !strings.HasPrefix(names["python"], "3.") {
		t.Fatalf("runtimes %v lack python 3", names)
	}
	testenv.Require(t, names["pypy"] != "", "pypy3 is not installed (apt-get install pypy3)")
	res, err := s.Run(context.Background(), sandbox.Spec{Runtime: "pypy",
		Code: []byte("import sys\nprint(sys.implementation.name, sum(range(10)))")})
	if err != nil || res.Verdict != onpyrunner.OK || res.Stdout != "pypy 45\n" {
		t.Fatalf("pypy run: %v %+v", err, res)
	}
}

// version is the Python version of the mode's runtime.
func (m mode) version(t *testing.T) string {
	t.Helper()
	rt, ok := m.rt()
	if !ok {
		t.Fatalf("no runtime %q", m.runtime)
	}
	return rt.Version
}

// TestOwnRoots runs the sandbox's tests on each runtime of its own root,
// cold and warm. CI builds CPython and PyPy ones.
func TestOwnRoots(t *testing.T) {
	sandboxFor(t)
	testenv.Require(t, rooted != nil, "no runtime built in "+testenv.RuntimesDir()+" (onpyrunner runtime add python3.14; runtime add pypy3)")
	langs := map[string]bool{}
	defer slots.closeAll()
	for _, rt := range rooted.Runtimes() {
		if rt.Root == "" {
			continue
		}
		langs[rt.Language] = true
		modes := map[string]mode{"cold": {runtime: rt.Name, s: rooted}, "warm": {warm: true, runtime: rt.Name, s: rooted}}
		for how, m := range modes {
			t.Run(rt.Name+"/"+how, func(t *testing.T) {
				defer slots.closeAll() // their processes would count as the next mode's
				for name, test := range map[string]func(*testing.T, mode){
					"corpus": hostileCorpus, "programs": ordinaryPrograms, "limits": limitBoundaries,
				} {
					t.Run(name, func(t *testing.T) { test(t, m) })
				}
			})
		}
	}
	testenv.Require(t, langs["python"] && langs["pypy"], "CPython and PyPy runtimes of their own (onpyrunner runtime add python3.14; runtime add pypy3)")
}
