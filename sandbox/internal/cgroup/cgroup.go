//go:build linux

package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Limits are what a run's program cgroup is held to.
type Limits struct {
	MemoryBytes int64   // memory, swap excluded (swap is forbidden)
	Pids        int64   // tasks (processes and threads) alive at once
	CPUs        float64 // CPU bandwidth in cores; 0 means unthrottled
}

// Stats are the kernel's accounting of a run's program cgroup.
type Stats struct {
	CPU        time.Duration // CPU time of all its processes
	MemoryPeak int64         // peak memory in bytes
	OOMKills   int64         // processes killed by the OOM killer
}

// Manager makes run cgroups. It is safe for concurrent use.
type Manager interface {
	// Version is 1 or 2.
	Version() int
	// NewRun creates the cgroups of one run, its program leaf limited by l.
	NewRun(id string, l Limits) (*Run, error)
	// NewSlot creates a warm slot's cgroup: R itself is not limited; its
	// init leaf, limited by l, holds the slot's own processes, and its
	// programs' cgroups are made beside that leaf (Run.NewProgRun).
	NewSlot(id string, l Limits) (*Run, error)
	// Runs lists the run directories that exist now.
	Runs() []string
	// HomeFiles are the files through which a thread of this process moves
	// itself back home after MoveFiles (v1 only; nil on v2).
	HomeFiles() []string
	// Close ends this use of the Manager; the last removes this process's
	// run directory from each hierarchy (the kernel refuses one that still
	// holds a run). No run may be made after.
	Close() error
}

var (
	_ Manager = (*v1)(nil)
	_ Manager = (*v2)(nil)
)

// Run is the cgroup pair of one run. On v2 every controller lives in one
// directory; on v1 each controller's hierarchy has its own.
type Run struct {
	v2    bool
	flat  bool              // no leaves: R is the program's
	dirs  map[string]string // controller -> R in its hierarchy
	rmdir func(string) error

	limit func(*Run, Limits) error // sets a flat run's limits
	lim   Limits                   // what limit set last
	base  counters                 // the counters at the last Reset

	mu    sync.Mutex
	files map[string]*os.File // kept open until Remove; see read
}

// leafDir is leaf's directory under root (root itself in a flat run).
func (r *Run) leafDir(root, leaf string) string {
	if r.flat {
		return root
	}
	return filepath.Join(root, leaf)
}

// leaves are the run's distinct leaves.
func (r *Run) leaves() []string {
	if r.flat {
		return []string{Prog}
	}
	return []string{Prog, Init}
}

// mkdir makes a cgroup directory; the kernel fills it with its interface
// files (tests replace it with a fake that does the same).
var mkdir = os.Mkdir

// Controllers a run needs.
var controllers = []string{"memory", "pids", "cpu", "cpuacct"}

// roots are R's distinct directories.
func (r *Run) roots() []string {
	var out []string
	for _, c := range controllers {
		if d, ok := r.dirs[c]; ok && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// Leaves of a run.
const (
	Prog = "prog"
	Init = "init"
)

// leafFiles are the files called name of leaf in every hierarchy.
func (r *Run) leafFiles(leaf, name string) []string {
	var out []string
	for _, root := range r.roots() {
		out = append(out, filepath.Join(r.leafDir(root, leaf), name))
	}
	return out
}

// ProcsFiles are the cgroup.procs files of leaf in every hierarchy.
func (r *Run) ProcsFiles(leaf string) []string { return r.leafFiles(leaf, "cgroup.procs") }

// MoveFiles are the files through which a thread moves itself into leaf
// by writing "0". On v1 they are the tasks files, which move just the
// writing thread and skip the global lock (and RCU grace period) that
// moving a whole process takes; its children are born in leaf. v2 has only
// cgroup.procs, which moves the whole process.
func (r *Run) MoveFiles(leaf string) []string {
	if r.v2 {
		return r.ProcsFiles(leaf)
	}
	return r.leafFiles(leaf, "tasks")
}

// LeafDir is leaf's directory on v2, for starting a process in it
// (CLONE_INTO_CGROUP).
func (r *Run) LeafDir(leaf string) string { return r.leafDir(r.dirs["memory"], leaf) }

// file is the path of a prog leaf file of controller c.
func (r *Run) file(c, name string) string { return filepath.Join(r.leafDir(r.dirs[c], Prog), name) }

// PidsMaxFile is the pids.max file of the program leaf.
func (r *Run) PidsMaxFile() string { return r.file("pids", "pids.max") }

// Procs lists the processes left in the run (both leaves, every hierarchy).
func (r *Run) Procs() ([]int, error) {
	var pids []int
	for _, leaf := range r.leaves() {
		for _, f := range r.ProcsFiles(leaf) {
			// Opened afresh: on v1 an open file keeps serving the list of
			// processes it read first.
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, s := range strings.Fields(string(b)) {
				if p, err := strconv.Atoi(s); err == nil {
					pids = append(pids, p)
				}
			}
		}
	}
	return pids, nil
}

// Signal sends sig to each process of the program leaf once (a Ctrl-C
// reaches every process of a terminal's foreground group the same way); a
// process gone meanwhile is skipped. It returns how many it reached.
func (r *Run) Signal(sig unix.Signal) (int, error) {
	pids, err := r.progPIDs()
	n := 0
	for _, p := range pids {
		if unix.Kill(p, sig) == nil {
			n++
		}
	}
	return n, err
}

// progPIDs lists the processes of the program leaf, from one hierarchy
// (each lists them all), read afresh.
func (r *Run) progPIDs() ([]int, error) {
	b, err := os.ReadFile(r.ProcsFiles(Prog)[0])
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, s := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(s); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// Kill SIGKILLs every process in the run until none is left (up to
// timeout): a process forking meanwhile dies at the next pass.
func (r *Run) Kill(timeout time.Duration) error {
	if n, err := r.readInt(filepath.Join(r.dirs["pids"], "pids.current")); err == nil && n == 0 {
		return nil // nothing to kill, known without listing (costly on v1)
	}
	deadline := time.Now().Add(timeout)
	for {
		pids, err := r.Procs()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: processes %v still alive after %v", pids, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Remove kills whatever is left in the run, waits until it is empty (up to
// timeout) and removes its directories. It never follows a path the program
// could have made: cgroupfs holds only what the kernel puts there.
func (r *Run) Remove(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if err := r.Kill(timeout); err != nil {
		return err
	}
	r.closeFiles()
	var errs []error
	for _, root := range r.roots() {
		dirs := []string{filepath.Join(root, Prog), filepath.Join(root, Init), root}
		if r.flat {
			dirs = dirs[2:]
		}
		for _, d := range dirs {
			if err := r.removeDir(d, deadline); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeDir retries rmdir while the kernel still counts exiting tasks.
func (r *Run) removeDir(d string, deadline time.Time) error {
	for {
		err := r.rmdir(d)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("cgroup: remove %s: %w", d, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// NewProgRun creates, beneath a slot's R (NewSlot), the cgroup of a run
// whose processes are all the program's: no leaves, it is limited by l
// and is what the leaf names of Run's methods stand for. Seen from it, in
// a cgroup namespace rooted there, the slot's processes are in ../init, as
// a cold run's init is.
func (r *Run) NewProgRun(id string, l Limits) (*Run, error) {
	limit := limitProgV1
	if r.v2 {
		limit = limitProgV2
	}
	return mkRun(r.v2, true, r.dirs, id, r.rmdir, func(p *Run) error { return p.setLimits(limit, l) })
}

// removeDirs removes this process's run directories, one per hierarchy.
func removeDirs(rmdir func(string) error, bases map[string]string) error {
	var errs []error
	for _, d := range bases {
		// Co-mounted controllers share a directory: the second finds it gone.
		if err := rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("cgroup: remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func writeFile(file, value string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", value, file, err)
	}
	return nil
}

func (r *Run) readInt(file string) (int64, error) {
	b, err := r.read(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// statField reads "key value" lines (cpu.stat, memory.events, memory.oom_control).
func statField(b []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("cgroup: no %q field", key)
}

// mkRun creates R and its leaves under each controller's base, applying
// set to R once its directory exists, and undoes what it made if a step fails.
func mkRun(v2, flat bool, bases map[string]string, id string, rmdir func(string) error, set func(r *Run) error) (*Run, error) {
	r := &Run{v2: v2, flat: flat, dirs: map[string]string{}, rmdir: rmdir}
	made := map[string]bool{}
	fail := func(err error) (*Run, error) {
		_ = r.Remove(time.Second)
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	for _, c := range controllers {
		root := filepath.Join(bases[c], id)
		r.dirs[c] = root
		if made[root] {
			continue
		}
		made[root] = true
		if err := mkdir(root, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := set(r); err != nil {
		return fail(err)
	}
	return r, nil
}

// mkLeaves creates R/init and R/prog in every hierarchy.
func (r *Run) mkLeaves() error {
	for _, root := range r.roots() {
		for _, leaf := range []string{Init, Prog} {
			if err := mkdir(filepath.Join(root, leaf), 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeAll writes file=value pairs under dir in order, skipping a file
// marked optional (name ending in "?") when the kernel lacks it.
func writeAll(dir string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		name, optional := strings.CutSuffix(kv[i], "?")
		err := writeFile(filepath.Join(dir, name), kv[i+1])
		if err != nil && !(optional && errors.Is(err, os.ErrNotExist)) {
			return err
		}
	}
	return nil
}

// Slack is what R allows beyond the program's limits, for the init.
const (
	slackMemory = 64 << 20
	slackPids   = 64
)

func quota(cpus float64) int64 { return int64(cpus * 100000) }

// listRuns lists the run directories under bases.
func listRuns(bases map[string]string) []string {
	var out []string
	for _, c := range controllers {
		entries, _ := os.ReadDir(bases[c])
		for _, e := range entries {
			if d := filepath.Join(bases[c], e.Name()); e.IsDir() && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}
