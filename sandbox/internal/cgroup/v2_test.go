//go:build linux

package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeV2 makes a cgroup v2 tree in a temporary directory whose mkdir fills
// each new cgroup with the interface files the kernel would, so the v2 code
// runs unchanged on a host that has no v2 controllers.
func fakeV2(t *testing.T, controllers string) string {
	t.Helper()
	root := t.TempDir()
	populate := func(dir string) error {
		files := map[string]string{
			"cgroup.controllers": controllers, "cgroup.procs": "", "cgroup.subtree_control": "",
			"memory.max": "max", "memory.swap.max": "max", "memory.oom.group": "0", "memory.peak": "0",
			"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", "pids.max": "max",
			"cpu.max": "max 100000", "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
		}
		for name, v := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if err := populate(root); err != nil {
		t.Fatal(err)
	}
	old := mkdir
	mkdir = func(dir string, perm os.FileMode) error {
		if err := os.Mkdir(dir, perm); err != nil {
			return err
		}
		return populate(dir)
	}
	t.Cleanup(func() { mkdir = old })
	return root
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestV2Setup(t *testing.T) {
	root := fakeV2(t, "cpuset cpu io memory hugetlb pids rdma misc")
	m, err := setupV2(root, 4242)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, SupervisorLeaf, "cgroup.procs")); got != "4242" {
		t.Errorf("supervisor not moved into its leaf: cgroup.procs %q", got)
	}
	for _, d := range []string{root, m.base} {
		if got := read(t, filepath.Join(d, "cgroup.subtree_control")); got != enable {
			t.Errorf("%s: subtree_control %q", d, got)
		}
	}
	if m.base != filepath.Join(root, "onpyrunner-4242") {
		t.Errorf("base %s", m.base)
	}
	// Started again from inside the leaf, it finds the same cgroup.
	if again, err := setupV2(filepath.Join(root, SupervisorLeaf), 4242); err != nil || again.base != m.base {
		t.Errorf("second setup: %v %v", again, err)
	}
}

func TestV2RefusesUndelegated(t *testing.T) {
	root := fakeV2(t, "cpu io")
	if _, err := setupV2(root, 1); err == nil || !strings.Contains(err.Error(), "Delegate=yes") {
		t.Errorf("err %v, want advice to delegate", err)
	}
}

func TestV2Run(t *testing.T) {
	m := fakeManager(t)
	r, err := m.NewRun("r1", Limits{MemoryBytes: 128 << 20, Pids: 32, CPUs: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	R := filepath.Join(m.base, "r1")
	want := map[string]string{
		"cgroup.subtree_control": enable,
		"memory.max":             strconv.Itoa(128<<20 + slackMemory),
		"memory.swap.max":        "0",
		"pids.max":               strconv.Itoa(32 + slackPids),
		"prog/memory.max":        strconv.Itoa(128 << 20),
		"prog/memory.swap.max":   "0",
		"prog/memory.oom.group":  "1",
		"prog/cpu.max":           "150000 100000",
		"prog/pids.max":          strconv.Itoa(32 + slackPids),
		"init/cgroup.procs":      "",
	}
	for f, v := range want {
		if got := read(t, filepath.Join(R, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	if got := r.ProcsFiles(Prog); len(got) != 1 || got[0] != filepath.Join(R, "prog", "cgroup.procs") {
		t.Errorf("prog procs files %v", got)
	}
	if got := r.PidsMaxFile(); got != filepath.Join(R, "prog", "pids.max") {
		t.Errorf("pids.max file %s", got)
	}
	// The kernel's accounting, as v2 words it.
	os.WriteFile(filepath.Join(R, "prog", "cpu.stat"), []byte("usage_usec 1234567\nuser_usec 1\n"), 0o644)
	os.WriteFile(filepath.Join(R, "prog", "memory.peak"), []byte("9437184\n"), 0o644)
	os.WriteFile(filepath.Join(R, "prog", "memory.events"), []byte("low 0\noom 3\noom_kill 2\n"), 0o644)
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU != 1234567*time.Microsecond || st.MemoryPeak != 9437184 || st.OOMKills != 2 {
		t.Errorf("stats %+v", st)
	}
	if runs := m.Runs(); len(runs) != 1 || runs[0] != R {
		t.Errorf("runs %v", runs)
	}
	if err := r.Remove(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(R); !os.IsNotExist(err) {
		t.Errorf("run cgroup still there: %v", err)
	}
}

func TestDetectParsing(t *testing.T) {
	dir := t.TempDir()
	mountinfo := `25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory
37 25 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
`
	self := "12:pids:/a\n4:memory:/process_api/x\n3:cpu,cpuacct:/\n0::/system.slice/onpyrunner.service\n"
	os.WriteFile(filepath.Join(dir, "mountinfo"), []byte(mountinfo), 0o644)
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte(self), 0o644)
	mounts, err := readMounts(filepath.Join(dir, "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	if mounts["2"] != "/sys/fs/cgroup" || mounts["memory"] != "/sys/fs/cgroup/memory" ||
		mounts["cpu"] != "/sys/fs/cgroup/cpu,cpuacct" || mounts["cpuacct"] != "/sys/fs/cgroup/cpu,cpuacct" {
		t.Errorf("mounts %v", mounts)
	}
	selfs, _ := readSelf(filepath.Join(dir, "cgroup"))
	if selfs["2"] != "/system.slice/onpyrunner.service" || selfs["memory"] != "/process_api/x" || selfs["cpuacct"] != "/" || selfs["pids"] != "/a" {
		t.Errorf("self %v", selfs)
	}
}

func TestV2ProgRun(t *testing.T) {
	m := fakeManager(t)
	sl := newSlot(t, m)
	r, err := sl.NewProgRun("p1", Limits{MemoryBytes: 64 << 20, Pids: 8, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.base, "s1", "p1")
	for file, want := range map[string]string{"memory.max": strconv.Itoa(64 << 20), "memory.swap.max": "0",
		"memory.oom.group": "1", "pids.max": "8", "cpu.max": "100000 100000"} {
		if got := read(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, Prog)); err == nil {
		t.Error("a program-only run has leaves")
	}
	if got := r.ProcsFiles(Prog); len(got) != 1 || got[0] != filepath.Join(dir, "cgroup.procs") {
		t.Errorf("procs files %v", got)
	}
	if err := r.Remove(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run dir left: %v", err)
	}
}

func TestV2Reset(t *testing.T) {
	m := fakeManager(t)
	sl := newSlot(t, m)
	r, err := sl.NewProgRun("p1", Limits{MemoryBytes: 64 << 20, Pids: 8})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.base, "s1", "p1")
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// What the last program left: its CPU time, an OOM kill, a peak.
	write("cpu.stat", "usage_usec 2000000\n")
	write("memory.events", "oom 1\noom_kill 1\n")
	write("memory.current", "4096\n")
	write("memory.peak", "99999999\n")
	if err := r.Reset(Limits{MemoryBytes: 32 << 20, Pids: 8, CPUs: 1}); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": strconv.Itoa(32 << 20), "cpu.max": "100000 100000", "pids.max": "8"} {
		if got := read(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q after reset, want %q", file, got, want)
		}
	}
	if r.Charged() != 4096 {
		t.Errorf("charged at the reset: %d, want 4096", r.Charged())
	}
	if got := read(t, filepath.Join(dir, "memory.peak")); !strings.HasPrefix(got, "0") {
		t.Errorf("memory.peak not reset: %q", got)
	}
	// The next program's use.
	write("cpu.stat", "usage_usec 2500000\n")
	write("memory.peak", "1052672\n")
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU != 500*time.Millisecond || st.OOMKills != 0 || st.MemoryPeak != 1052672-4096 {
		t.Errorf("stats after reset %+v", st)
	}
	if fs, err := r.JoinFiles(); err != nil || len(fs) != 1 || fs[0].Name() != filepath.Join(dir, "cgroup.procs") {
		t.Errorf("join files %v %v", fs, err)
	}
	if err := r.Remove(time.Second); err != nil {
		t.Fatal(err)
	}

	// A kernel whose memory.peak cannot be written cannot reset a run.
	r2, err := sl.NewProgRun("p2", Limits{MemoryBytes: 64 << 20, Pids: 8})
	if err != nil {
		t.Fatal(err)
	}
	peak := filepath.Join(m.base, "s1", "p2", "memory.peak")
	os.Remove(peak)
	os.Mkdir(peak, 0o755)
	if err := r2.Reset(Limits{MemoryBytes: 64 << 20, Pids: 8}); !errors.Is(err, ErrNoReset) {
		t.Errorf("reset without a writable memory.peak: %v", err)
	}
}

// fakeManager is a manager on a fake v2 hierarchy whose directories hold
// real files (so it removes them whole).
func fakeManager(t *testing.T) *v2 {
	t.Helper()
	m, err := setupV2(fakeV2(t, "cpu memory pids"), 4242)
	if err != nil {
		t.Fatal(err)
	}
	m.rmdir = os.RemoveAll
	return m
}

// setupV2 is what New does on a v2 host: detect, then make the run
// directory.
func setupV2(dir string, pid int) (*v2, error) {
	m, err := newV2(dir, pid)
	if err == nil {
		err = m.makeBases()
	}
	return m, err
}

func TestV2RemoveBases(t *testing.T) {
	m := fakeManager(t)
	if err := m.removeBases(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.base); !os.IsNotExist(err) {
		t.Errorf("run directory left: %v", err)
	}
	if err := m.removeBases(); err != nil {
		t.Errorf("removing it again: %v", err)
	}
}

// newSlot makes slot s1, and checks its layout: limits on its init leaf
// only, controllers on for the programs beside it.
func newSlot(t *testing.T, m *v2) *Run {
	t.Helper()
	sl, err := m.NewSlot("s1", Limits{MemoryBytes: 256 << 20, Pids: 64})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.base, "s1")
	for file, want := range map[string]string{"cgroup.subtree_control": enable, "memory.max": "max",
		"init/memory.max": strconv.Itoa(256 << 20), "init/pids.max": "64", "init/memory.swap.max": "0"} {
		if got := read(t, filepath.Join(dir, file)); got != want {
			t.Errorf("slot %s = %q, want %q", file, got, want)
		}
	}
	return sl
}
