//go:build linux

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WatchOOM makes the program leaf pause at its memory limit rather than
// have the OOM killer end it, and returns a channel closed when it first
// does, and stop, which ends the watch (cgroup v1's oom_kill_disable and
// its OOM notification). The supervisor then ends a program that is alone
// itself, having let it flush what it printed (Relieve), and hands one
// with children back to the OOM killer (ResumeOOMKiller). cgroup v2 has
// neither: there it returns a nil channel, and the OOM killer ends the
// run.
func (r *Run) WatchOOM() (<-chan struct{}, func(), error) {
	if r.v2 {
		return nil, func() {}, nil
	}
	ev, err := r.oomEvents()
	if err != nil {
		return nil, nil, err
	}
	// What an earlier run of a reused cgroup left counted is not this
	// run's: read it away, without waiting.
	var b [8]byte
	if rc, err := ev.SyscallConn(); err == nil {
		_ = rc.Read(func(fd uintptr) bool { _, _ = unix.Read(int(fd), b[:]); return true })
	}
	oom, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if n, _ := ev.Read(b[:]); n == 8 {
			close(oom)
		}
	}()
	return oom, func() {
		_ = ev.SetReadDeadline(time.Unix(1, 0)) // ends the read
		<-done
		_ = ev.SetReadDeadline(time.Time{})
	}, nil
}

// oomEvents is the eventfd that the kernel tells of the program leaf's
// OOMs, registered at its first use and kept, as the run's files are,
// until Remove (closing it ends the registration).
func (r *Run) oomEvents() (*os.File, error) {
	const key = "oom events"
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev := r.files[key]; ev != nil {
		return ev, nil
	}
	// The limits set the leaf's oom_kill_disable (v1.go), once per
	// cgroup: here only the notification is registered.
	dir := r.leafDir(r.dirs["memory"], Prog)
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, err
	}
	defer ctl.Close() // the kernel holds what it needs once registered
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroup: eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "oom")
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), fmt.Sprintf("%d %d", efd, ctl.Fd())); err != nil {
		ev.Close()
		return nil, err
	}
	if r.files == nil {
		r.files = map[string]*os.File{}
	}
	r.files[key] = ev
	return ev, nil
}

// Relieve raises the program leaf's memory limit by extra, so that a
// program paused at it (WatchOOM) runs on, to unwind and flush; the next
// Reset sets the run's limit again.
func (r *Run) Relieve(extra int64) error {
	if r.v2 {
		return nil
	}
	dir := r.leafDir(r.dirs["memory"], Prog)
	b, err := os.ReadFile(filepath.Join(dir, "memory.limit_in_bytes"))
	if err != nil {
		return err
	}
	cur, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("cgroup: read the memory limit: %w", err)
	}
	r.lim = Limits{} // what Reset compares with: it writes the limits again
	v := strconv.FormatInt(cur+extra, 10)
	// memsw may not be below the memory limit: raised first.
	return writeAll(dir, "memory.memsw.limit_in_bytes?", v, "memory.limit_in_bytes", v)
}

// Alone says whether the program leaf holds one process besides its pid
// namespace's init: a program without children of its own.
func (r *Run) Alone() (bool, error) {
	pids, err := r.progPIDs()
	if err != nil {
		return false, err
	}
	n := 0
	for _, pid := range pids {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue // gone
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] != "1" {
				n++
			}
		}
	}
	return n == 1, nil
}

// ResumeOOMKiller hands a paused program leaf back to the OOM killer
// (WatchOOM took it away), which then picks what to kill as it would have.
func (r *Run) ResumeOOMKiller() error {
	if r.v2 {
		return nil
	}
	r.lim = Limits{} // what Reset compares with: it sets the pause again
	return writeFile(filepath.Join(r.leafDir(r.dirs["memory"], Prog), "memory.oom_control"), "0")
}
