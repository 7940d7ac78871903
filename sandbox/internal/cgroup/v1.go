//go:build linux

package cgroup

import (
	"path/filepath"
	"strconv"
)

// v1 manages runs on cgroup v1: one hierarchy per controller (cpu and
// cpuacct may share one).
type v1 struct {
	bases map[string]string // controller -> this process's run directory
	home  []string          // tasks files of this process's own cgroups
	rmdir func(string) error
}

func (m *v1) Version() int { return 1 }

func (m *v1) Runs() []string { return listRuns(m.bases) }

func (m *v1) HomeFiles() []string { return m.home }

func (m *v1) NewRun(id string, l Limits) (*Run, error) {
	return mkRun(false, false, m.bases, id, m.rmdir, func(r *Run) error {
		if err := r.mkLeaves(); err != nil {
			return err
		}
		mem := strconv.FormatInt(l.MemoryBytes, 10)
		memR := strconv.FormatInt(l.MemoryBytes+slackMemory, 10)
		pidsR := strconv.FormatInt(l.Pids+slackPids, 10)
		// memsw (memory+swap) exists only with swap accounting; setting it
		// to the memory limit forbids swap. It must not go below the
		// memory limit, so memory comes first.
		steps := [][]string{
			{r.dirs["memory"], "memory.limit_in_bytes", memR, "memory.memsw.limit_in_bytes?", memR},
			{filepath.Join(r.dirs["memory"], Prog), "memory.limit_in_bytes", mem, "memory.memsw.limit_in_bytes?", mem, "memory.swappiness?", "0",
				"memory.oom_control?", "1"}, // paused at the limit: WatchOOM
			{r.dirs["pids"], "pids.max", pidsR},
			{filepath.Join(r.dirs["pids"], Prog), "pids.max", pidsR},
		}
		if l.CPUs > 0 {
			steps = append(steps, []string{filepath.Join(r.dirs["cpu"], Prog),
				"cpu.cfs_period_us", "100000", "cpu.cfs_quota_us", strconv.FormatInt(quota(l.CPUs), 10)})
		}
		for _, s := range steps {
			if err := writeAll(s[0], s[1:]...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (m *v1) NewSlot(id string, l Limits) (*Run, error) {
	return mkRun(false, false, m.bases, id, m.rmdir, func(r *Run) error {
		for _, root := range r.roots() {
			if err := mkdir(filepath.Join(root, Init), 0o755); err != nil {
				return err
			}
		}
		mem := strconv.FormatInt(l.MemoryBytes, 10)
		if err := writeAll(filepath.Join(r.dirs["memory"], Init), "memory.limit_in_bytes", mem,
			"memory.memsw.limit_in_bytes?", mem); err != nil {
			return err
		}
		return writeAll(filepath.Join(r.dirs["pids"], Init), "pids.max", strconv.FormatInt(l.Pids, 10))
	})
}

// limitProgV1 sets a program-only run's limits.
func limitProgV1(r *Run, l Limits) error {
	mem := strconv.FormatInt(l.MemoryBytes, 10)
	cpu := "-1" // unthrottled
	if l.CPUs > 0 {
		cpu = strconv.FormatInt(quota(l.CPUs), 10)
	}
	steps := [][]string{
		{r.dirs["memory"], "memory.limit_in_bytes", mem, "memory.memsw.limit_in_bytes?", mem, "memory.swappiness?", "0",
			"memory.oom_control?", "1"}, // paused at the limit: WatchOOM
		{r.dirs["pids"], "pids.max", strconv.FormatInt(l.Pids, 10)},
		{r.dirs["cpu"], "cpu.cfs_period_us", "100000", "cpu.cfs_quota_us", cpu},
	}
	for _, s := range steps {
		if err := writeAll(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}
