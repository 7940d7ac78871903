//go:build linux

package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// SupervisorLeaf is the v2 leaf this process moves into so that its own
// cgroup may enable controllers for the runs.
const SupervisorLeaf = "onpyrunner-supervisor"

var (
	once     sync.Once
	detected manager
	errNew   error

	usersMu sync.Mutex
	users   int // Managers New returned and Close did not release
)

// manager is a Manager that makes and removes this process's run
// directories.
type manager interface {
	Manager
	makeBases() error
	removeBases() error
}

// New detects the host's cgroup version (v2 when the unified hierarchy
// offers the memory controller here or no v1 hierarchy has it, else v1),
// once per process, and makes this process's run directory unless an
// earlier Manager still holds it. Close each Manager: the last Close
// removes the directory.
func New() (Manager, error) {
	once.Do(func() { detected, errNew = detect() })
	if errNew != nil {
		return nil, errNew
	}
	usersMu.Lock()
	defer usersMu.Unlock()
	if users == 0 {
		if err := detected.makeBases(); err != nil {
			return nil, err
		}
	}
	users++
	return detected, nil
}

// release ends one New's use of m; the last removes the run directories.
func release(m manager) error {
	usersMu.Lock()
	defer usersMu.Unlock()
	if users == 0 {
		return nil
	}
	if users--; users > 0 {
		return nil
	}
	return m.removeBases()
}

func detect() (manager, error) {
	mounts, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	selfs, err := readSelf("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	pid := os.Getpid()
	if mnt, ok := mounts["2"]; ok {
		dir := filepath.Join(mnt, selfs["2"])
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		// With no v1 memory hierarchy this is a v2 host, and newV2 says
		// what the host must delegate.
		if _, v1 := mounts["memory"]; !v1 || slices.Contains(strings.Fields(string(b)), "memory") {
			return newV2(dir, pid)
		}
	}
	return newV1(mounts, selfs, pid)
}

// readMounts maps each v1 controller to its hierarchy's mount point, and
// "2" to the unified hierarchy's.
func readMounts(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			out["2"] = fields[4]
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if slices.Contains(controllers, opt) {
					out[opt] = fields[4]
				}
			}
		}
	}
	return out, sc.Err()
}

// readSelf maps each v1 controller, and "2", to this process's cgroup path.
func readSelf(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out["2"] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

func newV1(mounts, selfs map[string]string, pid int) (*v1, error) {
	m := &v1{bases: map[string]string{}, rmdir: unix.Rmdir}
	for _, c := range controllers {
		mnt, ok := mounts[c]
		if !ok {
			return nil, fmt.Errorf("cgroup: the %s controller is mounted neither on cgroup v2 nor on v1", c)
		}
		own := filepath.Join(mnt, selfs[c])
		sweep(own)
		m.bases[c] = filepath.Join(own, "onpyrunner-"+strconv.Itoa(pid))
		if home := filepath.Join(own, "tasks"); !slices.Contains(m.home, home) {
			m.home = append(m.home, home)
		}
	}
	return m, nil
}

// newV2 moves this process into a leaf of dir (its own cgroup) and enables
// the controllers that runs need below dir.
func newV2(dir string, pid int) (*v2, error) {
	if filepath.Base(dir) == SupervisorLeaf {
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !slices.Contains(strings.Fields(string(b)), c) {
			return nil, fmt.Errorf("cgroup: v2 cgroup %s is not delegated the %s controller (run the service under systemd with Delegate=yes)", dir, c)
		}
	}
	leaf := filepath.Join(dir, SupervisorLeaf)
	if err := mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if err := writeFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), enable); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("cgroup: v2 cgroup %s holds processes other than this one, so it cannot enable controllers for sandboxes; start the service in a cgroup of its own (systemd unit with Delegate=yes, or systemd-run --scope -p Delegate=yes): %w", dir, err)
		}
		return nil, err
	}
	sweep(dir)
	return &v2{base: filepath.Join(dir, "onpyrunner-"+strconv.Itoa(pid)), rmdir: unix.Rmdir}, nil
}

func (m *v1) makeBases() error {
	for _, base := range m.bases {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
	}
	return nil
}

func (m *v2) makeBases() error {
	if err := mkdir(m.base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cgroup: %w", err)
	}
	return writeFile(filepath.Join(m.base, "cgroup.subtree_control"), enable)
}

func (m *v1) removeBases() error { return removeDirs(m.rmdir, m.bases) }

func (m *v2) removeBases() error { return removeDirs(m.rmdir, map[string]string{"memory": m.base}) }

func (m *v1) Close() error { return release(m) }

func (m *v2) Close() error { return release(m) }

// sweep removes run directories that a dead process of ours left under own.
// Their processes died with their init (it has a parent-death signal), so
// only empty directories remain; rmdir refuses anything else.
func sweep(own string) {
	entries, _ := os.ReadDir(own)
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "onpyrunner-")
		pid, err := strconv.Atoi(s)
		if !ok || err != nil || !e.IsDir() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		rmdirTree(filepath.Join(own, e.Name()))
	}
}

// rmdirTree removes a tree of cgroup directories bottom-up; it removes
// directories only (cgroupfs files go with them).
func rmdirTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = unix.Rmdir(dir)
}
