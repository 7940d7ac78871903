//go:build linux

package sandbox_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// parityProbe prints what a run gets: ids, capabilities, no_new_privs,
// seccomp, rlimits, mount table, environment, Landlock on a write outside
// scratch, cwd, umask, signal dispositions, argv and flags.
const parityProbe = `import os, resource, signal, sys
st = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in open('/proc/self/status')}
print('ids', os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups())
for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'):
    print(k, st[k])
for r in sorted(n for n in dir(resource) if n.startswith('RLIMIT_')):
    print(r, resource.getrlimit(getattr(resource, r)))
for l in open('/proc/self/mountinfo'):
    f = l.split()
    fs, _, opts = l.split(' - ')[1].split()
    opts = ','.join(o for o in opts.split(',') if not o.startswith(('uid=', 'gid=')))  # a host uid of the run's own
    print('mount', f[4], f[5], fs, opts)
print('env', sorted(os.environ.items()))
try:
    open('/etc/x', 'w'); print('write outside scratch ok')
except OSError as e:
    print('write outside scratch', e.errno)
print('cwd', os.getcwd())
u = os.umask(0); os.umask(u); print('umask', oct(u))
print('signals', [(s.name, signal.getsignal(s)) for s in signal.valid_signals() if isinstance(s, signal.Signals) and s not in (signal.SIGKILL, signal.SIGSTOP)])
print('argv', sys.argv, sys.flags)
try:
    os.listdir('/.slot')
    print('SLOT LISTED')
except OSError as e:
    print('slot folder', 'absent' if e.errno == 2 else 'closed' if e.errno == 13 else e.errno)
`

// TestColdWarmParity: a cold run and a warm run get the same: the same
// answers to the probe, line for line, but for the order of the mount
// table and the warm slot's own /proc, which sits behind a folder the run
// may not open. A warm slot without machine code (as on architectures
// that have none) gets the same too.
func TestColdWarmParity(t *testing.T) {
	c := cold.run(t, parityProbe, onpyrunner.Limits{}, nil)
	portable, err := sandbox.NewPortableSlot(sandboxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { portable.Close() })
	for _, sl := range []*sandbox.Slot{newSlot(t), portable} {
		w, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte(parityProbe)})
		if err != nil {
			t.Fatal(err)
		}
		compareProbe(t, c, w)
	}
}

func compareProbe(t *testing.T, c, w *onpyrunner.Result) {
	t.Helper()
	lines := func(r *onpyrunner.Result) []string {
		if r.Verdict != onpyrunner.OK {
			t.Fatalf("probe: %s", show(r))
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if l != "mount /.slot/proc rw,nosuid,nodev,noexec,relatime proc rw" && !strings.HasPrefix(l, "slot folder ") {
				out = append(out, l)
			}
		}
		slices.Sort(out)
		return out
	}
	cl, wl := lines(c), lines(w)
	if len(cl) < 30 {
		t.Fatalf("the probe said too little: %q", c.Stdout)
	}
	for _, l := range cl {
		if !slices.Contains(wl, l) {
			t.Errorf("cold only: %s", l)
		}
	}
	for _, l := range wl {
		if !slices.Contains(cl, l) {
			t.Errorf("warm only: %s", l)
		}
	}
	if !strings.Contains(c.Stdout, "slot folder absent") || !strings.Contains(w.Stdout, "slot folder closed") {
		t.Errorf("the slot's folder: cold %q, warm %q", c.Stdout, w.Stdout)
	}
}

// mainProbe prints what `python3 main.py` gives a script, then fails with
// a traceback.
const mainProbe = `import sys, os
print(sys.argv, sys.orig_argv, __file__, sys.path[0], __name__, sys.flags)
print(os.path.basename(sys.executable))
def f():
    raise ValueError('boom')
f()
`

// TestWarmIsPython3Main: what the warm path emulates of `python3 main.py`
// (argv, orig_argv, __file__, sys.path[0], __name__, flags, tracebacks'
// file names and frames, exit codes) is what a cold run, which is
// `python3 main.py`, shows.
func TestWarmIsPython3Main(t *testing.T) {
	sandboxFor(t)
	defer slots.closeAll()
	modes := []mode{cold}
	if rooted != nil {
		for _, rt := range rooted.Runtimes() {
			if rt.Root != "" {
				modes = append(modes, mode{runtime: rt.Name, s: rooted})
			}
		}
	}
	programs := []string{mainProbe, "import sys\nsys.exit(3)", "import sys\nsys.exit('bye')",
		"raise SystemExit", "import os\nos._exit(7)", "raise KeyboardInterrupt",
		// What the exit does: flush a file left open, run atexit after
		// the traceback, wait for a thread.
		"f = open(1, 'w', closefd=False)\nf.write('left open')",
		"import atexit\natexit.register(print, 'at exit')\nraise ValueError(2)",
		"import atexit, sys\natexit.register(sys.exit, 4)",
		"import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.05), print('thread'))).start()"}
	for _, c := range modes {
		w := c
		w.warm = true
		t.Run(cmp.Or(c.runtime, "python"), func(t *testing.T) {
			for _, code := range programs {
				c, w := c.run(t, code, onpyrunner.Limits{}, nil), w.run(t, code, onpyrunner.Limits{}, nil)
				if code == mainProbe && (!strings.Contains(c.Stdout, "['main.py']") || !strings.Contains(c.Stderr, `File "/work/main.py", line 6`) ||
					!strings.Contains(c.Stderr, "ValueError: boom")) {
					t.Fatalf("the probe did not run as meant: %s", show(c))
				}
				if c.Stdout != w.Stdout || c.Stderr != w.Stderr || c.ExitCode != w.ExitCode || c.Verdict != w.Verdict || c.Signal != w.Signal {
					t.Errorf("%q:\ncold %s\nwarm %s", code, show(c), show(w))
				}
			}
		})
	}
}
