//go:build linux

package sandbox_test

import (
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// numpySandbox is a sandbox on the runtime with numpy preloaded
// (testenv.NumpyRuntimesDir), its probe passed.
func numpySandbox(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	sandboxFor(t)
	dir := testenv.NumpyRuntimesDir()
	rts, err := runtimes.List(dir)
	testenv.Require(t, err == nil && len(rts) == 1 && len(rts[0].Preload) > 0,
		"no runtime with a preload in "+dir+" (onpyrunner runtime add python3.14 --packages python3-numpy --preload numpy,numpy.random --runtimes "+dir+")")
	s, err := sandbox.New(sandbox.Config{RuntimesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.CheckProbe(s, rts[0].Name); err != nil {
		t.Fatalf("probe: the sandbox does not hold: %v", err)
	}
	return s
}

// TestPreload: a runtime's preloaded modules are imported before the
// program on both paths, a warm run's numpy works as a cold run's, its
// global generator is seeded afresh for every run (a fork would share
// the zygote's), and a numpy program's memory is the same cold and warm.
func TestPreload(t *testing.T) {
	s := numpySandbox(t)
	defer slots.closeAll()
	c := mode{runtime: "python3.14", s: s}
	w := c
	w.warm = true
	l := onpyrunner.Limits{MemoryMB: 256}
	seen := map[string]bool{}
	for _, m := range []mode{c, w, w, w} {
		res := m.run(t, "import sys, numpy\nprint('numpy' in sys.modules and 'numpy.random' in sys.modules, numpy.arange(3).sum(), numpy.random.rand())", l, nil)
		f := strings.Fields(res.Stdout)
		if res.Verdict != onpyrunner.OK || len(f) != 3 || f[0] != "True" || f[1] != "3" {
			t.Fatalf("warm %v: %s", m.warm, show(res))
		}
		if seen[f[2]] {
			t.Errorf("warm %v: numpy.random.rand() is %s again", m.warm, f[2])
		}
		seen[f[2]] = true
	}
	// Preloaded before the program: the program's first line sees it.
	for _, m := range []mode{c, w} {
		if res := m.run(t, "import sys\nprint(sorted(m for m in ('numpy', 'numpy.random') if m in sys.modules))", l, nil); strings.TrimSpace(res.Stdout) != "['numpy', 'numpy.random']" {
			t.Errorf("warm %v: %s", m.warm, show(res))
		}
	}
	prog := "import numpy\na = numpy.ones(8 << 20, dtype=numpy.uint8)\nb = a * 3\nprint(int(b.sum()))"
	cr, wr := c.run(t, prog, l, nil), w.run(t, prog, l, nil)
	if cr.Verdict != onpyrunner.OK || wr.Verdict != onpyrunner.OK || cr.Stdout != wr.Stdout {
		t.Fatalf("cold %s, warm %s", show(cr), show(wr))
	}
	if !near(wr.MemoryKB, cr.MemoryKB) {
		t.Errorf("numpy program: memory %d KiB warm, %d KiB cold", wr.MemoryKB, cr.MemoryKB)
	}
	t.Logf("numpy program: memory %d KiB warm, %d KiB cold", wr.MemoryKB, cr.MemoryKB)
}
