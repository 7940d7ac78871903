//go:build linux

package sandbox_test

import (
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
    print('mount', f[4], f[5], l.split(' - ')[1].split()[0])
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
// may not open.
func TestColdWarmParity(t *testing.T) {
	c := cold.run(t, parityProbe, onpyrunner.Limits{}, nil)
	w, err := newSlot(t).Run(context.Background(), sandbox.Spec{Code: []byte(parityProbe)})
	if err != nil {
		t.Fatal(err)
	}
	lines := func(r *onpyrunner.Result) []string {
		if r.Verdict != onpyrunner.OK {
			t.Fatalf("probe: %s", show(r))
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if l != "mount /.slot/proc rw,nosuid,nodev,noexec,relatime proc" && !strings.HasPrefix(l, "slot folder ") {
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
