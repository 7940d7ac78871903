//go:build linux

package cgroup

import (
	"io"
	"os"
)

// open returns the run's descriptor for file, opening it with flag the
// first time: the path lookups in cgroupfs cost more than the reads.
func (r *Run) open(file string, flag int) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[file]; ok {
		return f, nil
	}
	var f *os.File
	var err error
	if file == r.peakFile() {
		// Read through the descriptor that resets it, where the kernel
		// lets it be written (where not, Reset fails with ErrNoReset).
		f, err = os.OpenFile(file, os.O_RDWR, 0)
	}
	if f == nil {
		if f, err = os.OpenFile(file, flag, 0); err != nil {
			return nil, err
		}
	}
	if r.files == nil {
		r.files = map[string]*os.File{}
	}
	r.files[file] = f
	return f, nil
}

// JoinFiles are the program leaf's MoveFiles, open for writing: a
// single-threaded process joins the leaf by writing "0" to each (on v1
// that moves the writing thread only, without the global lock and RCU
// grace period that moving a whole process takes, and a process of one
// thread is all of it). They stay open until Remove.
func (r *Run) JoinFiles() ([]*os.File, error) {
	var out []*os.File
	for _, name := range r.MoveFiles(Prog) {
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
