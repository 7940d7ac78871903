//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// counters are a run's counters that cannot be set back to zero: Stats and
// CPU report what they grew by since the last Reset.
type counters struct {
	cpu      time.Duration
	oomKills int64
	memory   int64 // usage at the reset, which the reset peak starts from
}

// ErrNoReset says that the kernel cannot reset a cgroup's peak memory
// (cgroup v2 before Linux 6.12), so a run cgroup cannot serve another
// program: make a fresh one.
var ErrNoReset = errors.New("cgroup: the kernel cannot reset peak memory")

// Reset readies a program-only run (NewProgRun) whose processes have all
// ended for another program, which costs far less than making a fresh one:
// it sets l where it differs from the limits set last, resets the peak
// memory to the current usage and counts CPU time, OOM kills and peak
// memory from now. A fresh cgroup's counters start at zero; these start
// from whatever the last program left charged (page cache, kernel
// objects), which Charged then says, so callers keep a run only while that
// is small.
func (r *Run) Reset(l Limits) error {
	if !r.flat {
		return errors.New("cgroup: only a program-only run can be reset")
	}
	if l != r.lim {
		if err := r.limit(r, l); err != nil {
			return err
		}
		r.lim = l
	}
	f, err := r.open(r.peakFile(), os.O_RDWR)
	if err == nil {
		_, err = f.WriteAt([]byte("0"), 0)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoReset, err)
	}
	var e1, e2, e3 error
	r.base.cpu, e1 = r.cpu()
	r.base.oomKills, e2 = r.oomKills()
	r.base.memory, e3 = r.usage()
	return errors.Join(e1, e2, e3)
}

// Charged is the memory charged to the program leaf at the last Reset.
func (r *Run) Charged() int64 { return r.base.memory }

// setLimits sets l with limit, which Reset uses again when limits change.
func (r *Run) setLimits(limit func(*Run, Limits) error, l Limits) error {
	r.limit, r.lim = limit, l
	return limit(r, l)
}

// usage is the memory charged to the program leaf now.
func (r *Run) usage() (int64, error) {
	name := "memory.usage_in_bytes"
	if r.v2 {
		name = "memory.current"
	}
	return r.readInt(r.file("memory", name))
}

// peakFile is the program leaf's peak memory file; on v2 a reset holds for
// reads through the descriptor that wrote it, which read keeps open.
func (r *Run) peakFile() string {
	if r.v2 {
		return r.file("memory", "memory.peak")
	}
	return r.file("memory", "memory.max_usage_in_bytes")
}

// CPU reads the program leaf's CPU time; it is cheap enough to poll.
func (r *Run) CPU() (time.Duration, error) {
	cpu, err := r.cpu()
	return cpu - r.base.cpu, err
}

func (r *Run) cpu() (time.Duration, error) {
	if r.v2 {
		b, err := r.read(r.file("cpu", "cpu.stat"))
		if err != nil {
			return 0, err
		}
		usec, err := statField(b, "usage_usec")
		return time.Duration(usec) * time.Microsecond, err
	}
	ns, err := r.readInt(r.file("cpuacct", "cpuacct.usage"))
	return time.Duration(ns), err
}

// Stats reads the program leaf's accounting (since the last Reset).
func (r *Run) Stats() (Stats, error) {
	var s Stats
	var err, e2, e3 error
	s.CPU, err = r.CPU()
	s.MemoryPeak, e2 = r.readInt(r.peakFile())
	s.MemoryPeak = max(s.MemoryPeak-r.base.memory, 0)
	s.OOMKills, e3 = r.oomKills()
	s.OOMKills -= r.base.oomKills
	return s, errors.Join(err, e2, e3)
}

func (r *Run) oomKills() (int64, error) {
	events := "memory.oom_control"
	if r.v2 {
		events = "memory.events"
	}
	b, err := r.read(r.file("memory", events))
	if err != nil {
		return 0, err
	}
	return statField(b, "oom_kill")
}
