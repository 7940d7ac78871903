//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// corpusLimits are the concrete values of the corpus's symbolic limits.
var corpusLimits = onpyrunner.Limits{TimeMs: 1000, WallTimeMs: 3000, MemoryMB: 128,
	OutputKB: 64, Processes: 32, FileSizeKB: 16 << 10, OpenFiles: 256}

// sandboxFor returns the shared sandbox, or skips (fails in CI) if this is
// not root.
func sandboxFor(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	testenv.Root(t)
	return sb
}

// mode says where a test's programs run: each with a fresh interpreter
// (cold), or in warm slots, made as runs at once need them (warm); on the
// host's python of the shared sandbox, or on a runtime of its own root
// (of the sandbox rooted). The tests of the sandbox take it, so that each
// runs the same every way.
type mode struct {
	warm    bool
	runtime string           // Spec.Runtime: "" for python
	s       *sandbox.Sandbox // nil for sb
}

var (
	cold     = mode{}
	warmMode = mode{warm: true}
)

// rt is the runtime the mode names ("" is the host's python).
func (m mode) rt() (sandbox.Runtime, bool) {
	name := m.runtime
	if name == "" {
		name = "python"
	}
	for _, rt := range m.sandbox().Runtimes() {
		if rt.Name == name {
			return rt, true
		}
	}
	return sandbox.Runtime{}, false
}

// pypy says whether the mode runs on PyPy, whose memory and semantics
// some tests must allow for (each says how).
func (m mode) pypy() bool {
	rt, _ := m.rt()
	return rt.Implementation == "pypy"
}

// memoryMB is a memory limit of a test for CPython, as the mode's runtime
// needs it: PyPy's interpreter is resident in about 60 MiB more at start,
// and its garbage collector lets garbage grow before it collects, so its
// tests get limits twice as large and 64 MiB more (and allocations
// against them, allocMB, twice as large).
func (m mode) memoryMB(mb int64) int64 {
	if m.pypy() {
		return 2*mb + 64
	}
	return mb
}

// allocMB is an allocation of a test for CPython, against a limit of
// memoryMB, as the mode's runtime needs it.
func (m mode) allocMB(mb int64) int64 {
	if m.pypy() {
		return 2 * mb
	}
	return mb
}

// sandbox is the sandbox the mode runs in.
func (m mode) sandbox() *sandbox.Sandbox {
	if m.s != nil {
		return m.s
	}
	return sb
}

// run runs code with limits and stdin and fails t if the sandbox errs.
func (m mode) run(t testing.TB, code string, l onpyrunner.Limits, stdin []byte) *onpyrunner.Result {
	t.Helper()
	sandboxFor(t)
	res, err := m.try(code, l, stdin)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// try is run for goroutines other than the test's own (they may not call
// t.Fatal).
func (m mode) try(code string, l onpyrunner.Limits, stdin []byte) (*onpyrunner.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := sandbox.Spec{Runtime: m.runtime, Code: []byte(code), Limits: l}
	if stdin != nil {
		spec.Stdin = bytes.NewReader(stdin)
	}
	return m.runSpec(ctx, spec)
}

// runSpec runs spec the mode's way: cold, or on a warm slot of its pool.
func (m mode) runSpec(ctx context.Context, spec sandbox.Spec) (*onpyrunner.Result, error) {
	if m.warm {
		sl, err := slots.get(m)
		if err != nil {
			return nil, err
		}
		defer slots.put(m, sl)
		return sl.Run(ctx, spec)
	}
	return m.sandbox().Run(ctx, spec)
}

// slots are warm slots for tests, made as runs at once need them, for
// each mode.
var slots = slotPool{idle: map[mode][]*sandbox.Slot{}}

type slotPool struct {
	mu   sync.Mutex
	idle map[mode][]*sandbox.Slot
}

func (p *slotPool) get(m mode) (*sandbox.Slot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle[m]); n > 0 {
		sl := p.idle[m][n-1]
		p.idle[m] = p.idle[m][:n-1]
		return sl, nil
	}
	return m.sandbox().NewSlot(m.runtime)
}

func (p *slotPool) put(m mode, sl *sandbox.Slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle[m] = append(p.idle[m], sl)
}

// closeAll stops every slot (none may be in use).
func (p *slotPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for m, sls := range p.idle {
		for _, sl := range sls {
			sl.Close()
		}
		delete(p.idle, m)
	}
}

// TestWarm runs the sandbox's tests again through warm slots: every corpus
// row, every ordinary program, every limit, runs at once.
func TestWarm(t *testing.T) {
	sandboxFor(t)
	defer slots.closeAll()
	for name, test := range map[string]func(*testing.T, mode){
		"corpus": hostileCorpus, "programs": ordinaryPrograms,
		"limits": limitBoundaries, "concurrent": concurrentRuns,
	} {
		t.Run(name, func(t *testing.T) { test(t, warmMode) })
	}
}

// hostState is what a run must not change outside its scratch space.
type hostState struct {
	shm, root []string
	hostname  string
}

// corpusFiles are the files corpus programs make in their scratch space;
// none may show up on the host.
var corpusFiles = []string{"big.bin", "d", "jail", "out.fifo", "null2", "py2", "hl", "main.py"}

func snapshot() hostState {
	names := func(d string) []string {
		es, _ := os.ReadDir(d)
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	h, _ := os.Hostname()
	return hostState{names("/dev/shm"), names("/"), h}
}

// checkAfterRun checks what the hostile corpus README asks after every
// case: no process of the run left, its cgroup and scratch space gone,
// nothing changed outside the run, and a normal program still right.
func checkAfterRun(t *testing.T, m mode, before hostState) {
	t.Helper()
	sandboxFor(t)
	s := m.sandbox()
	lo, hi := sandbox.UIDRange(s)
	if m.warm {
		lo++ // uid lo is also the warm slots' own, which live on
	}
	// A run's last process may still be exiting as the run returns.
	left := sandboxProcs(lo, hi)
	for deadline := time.Now().Add(2 * time.Second); len(left) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		left = sandboxProcs(lo, hi)
	}
	if len(left) > 0 {
		t.Errorf("processes of the run left on the host: %v", left)
	}
	if left := sandbox.LeftoverCgroups(s); len(left) > 0 {
		t.Errorf("run cgroups left: %v", left)
	}
	if es, _ := os.ReadDir(sandbox.RootDir(s)); len(es) > 0 {
		t.Errorf("the host sees files in the runs' root dir: %v", es)
	}
	after := snapshot()
	if strings.Join(after.shm, ",") != strings.Join(before.shm, ",") {
		t.Errorf("/dev/shm changed: %v -> %v", before.shm, after.shm)
	}
	if after.hostname != before.hostname {
		t.Errorf("hostname changed: %q -> %q", before.hostname, after.hostname)
	}
	if strings.Join(after.root, ",") != strings.Join(before.root, ",") {
		t.Errorf("/ changed: %v -> %v", before.root, after.root)
	}
	for _, d := range []string{"/tmp", "/", "/dev/shm"} {
		for _, f := range corpusFiles {
			if _, err := os.Lstat(filepath.Join(d, f)); err == nil {
				t.Errorf("%s appeared on the host", filepath.Join(d, f))
			}
		}
	}
	if res := m.run(t, "print(6 * 7)", onpyrunner.Limits{}, nil); res.Stdout != "42\n" || res.Verdict != onpyrunner.OK {
		t.Errorf("normal program after the case: %+v", res)
	}
}

// sandboxProcs lists host processes whose real uid is in [lo, hi].
func sandboxProcs(lo, hi int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				if uid, _ := strconv.Atoi(f[1]); uid >= lo && uid <= hi {
					out = append(out, e.Name())
				}
			}
		}
	}
	return out
}
