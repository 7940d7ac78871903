//go:build linux

package cgroup

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// v2 manages runs on the unified hierarchy.
type v2 struct {
	base  string // this process's run directory, controllers enabled
	rmdir func(string) error
}

func (m *v2) Version() int { return 2 }

func (m *v2) HomeFiles() []string { return nil }

func (m *v2) Runs() []string { return listRuns(map[string]string{"memory": m.base}) }

// enable is what each level of our subtree turns on for its children.
const enable = "+memory +pids +cpu"

func (m *v2) NewRun(id string, l Limits) (*Run, error) {
	bases := map[string]string{}
	for _, c := range controllers {
		bases[c] = m.base
	}
	return mkRun(true, false, bases, id, m.rmdir, func(r *Run) error {
		root := r.dirs["memory"]
		if err := writeAll(root, "cgroup.subtree_control", enable); err != nil {
			return err
		}
		if err := r.mkLeaves(); err != nil {
			return err
		}
		mem := strconv.FormatInt(l.MemoryBytes, 10)
		pidsR := strconv.FormatInt(l.Pids+slackPids, 10)
		cpu := "max 100000"
		if l.CPUs > 0 {
			cpu = fmt.Sprintf("%d 100000", quota(l.CPUs))
		}
		if err := writeAll(root, "memory.max", strconv.FormatInt(l.MemoryBytes+slackMemory, 10),
			"memory.swap.max?", "0", "pids.max", pidsR); err != nil {
			return err
		}
		// memory.oom.group: an OOM kill takes the whole program, so a
		// memory_limit run never limps on with a child missing.
		return writeAll(filepath.Join(root, Prog), "memory.max", mem, "memory.swap.max?", "0",
			"memory.oom.group?", "1", "pids.max", pidsR, "cpu.max", cpu)
	})
}

func (m *v2) NewSlot(id string, l Limits) (*Run, error) {
	bases := map[string]string{}
	for _, c := range controllers {
		bases[c] = m.base
	}
	return mkRun(true, false, bases, id, m.rmdir, func(r *Run) error {
		root := r.dirs["memory"]
		if err := writeAll(root, "cgroup.subtree_control", enable); err != nil {
			return err
		}
		if err := mkdir(filepath.Join(root, Init), 0o755); err != nil {
			return err
		}
		return writeAll(filepath.Join(root, Init), "memory.max", strconv.FormatInt(l.MemoryBytes, 10),
			"memory.swap.max?", "0", "pids.max", strconv.FormatInt(l.Pids, 10))
	})
}

// limitProgV2 sets a program-only run's limits.
func limitProgV2(r *Run, l Limits) error {
	cpu := "max 100000"
	if l.CPUs > 0 {
		cpu = fmt.Sprintf("%d 100000", quota(l.CPUs))
	}
	return writeAll(r.dirs["memory"], "memory.max", strconv.FormatInt(l.MemoryBytes, 10), "memory.swap.max?", "0",
		"memory.oom.group?", "1", "pids.max", strconv.FormatInt(l.Pids, 10), "cpu.max", cpu)
}
