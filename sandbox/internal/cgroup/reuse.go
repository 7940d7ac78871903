package cgroup

import (
	"errors"
	"fmt"
	"io"
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
// objects), which Usage shows, so callers keep a run only while that is
// small.
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
	r.base.memory, e3 = r.Usage()
	return errors.Join(e1, e2, e3)
}

// setLimits sets l with limit, which Reset uses again when limits change.
func (r *Run) setLimits(limit func(*Run, Limits) error, l Limits) error {
	r.limit, r.lim = limit, l
	return limit(r, l)
}

// Usage is the memory charged to the program leaf now.
func (r *Run) Usage() (int64, error) {
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

// open returns the run's descriptor for file, opening it with flag the
// first time: the path lookups in cgroupfs cost more than the reads.
func (r *Run) open(file string, flag int) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[file]; ok {
		return f, nil
	}
	if file == r.peakFile() {
		flag = os.O_RDWR // read through the descriptor that resets it
	}
	f, err := os.OpenFile(file, flag, 0)
	if err != nil {
		return nil, err
	}
	if r.files == nil {
		r.files = map[string]*os.File{}
	}
	r.files[file] = f
	return f, nil
}

// JoinFiles are the program leaf's cgroup.procs files, open for writing:
// a process joins the leaf by writing "0" to each. They stay open until
// Remove.
func (r *Run) JoinFiles() ([]*os.File, error) {
	var out []*os.File
	for _, name := range r.ProcsFiles(Prog) {
		f, err := r.open(name, os.O_WRONLY)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// read reads a counter file whole from its start, through the run's
// descriptor.
func (r *Run) read(file string) ([]byte, error) {
	f, err := r.open(file, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func (r *Run) closeFiles() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
}
