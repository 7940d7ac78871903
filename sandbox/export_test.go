//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
)

// LeftoverCgroups lists run cgroups that still exist, the warm slots'
// own aside, and those that slots keep for their next program (inside
// their own) but that still hold a process (tests only).
func LeftoverCgroups(s *Sandbox) []string {
	var out []string
	for _, d := range s.cgroups.Runs() {
		if !strings.HasPrefix(filepath.Base(d), slotPrefix) {
			out = append(out, d)
			continue
		}
		progs, _ := filepath.Glob(filepath.Join(d, progPrefix+"*"))
		for _, p := range progs {
			if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err != nil || len(b) > 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

// RootDir is where the runs' roots are built (tests only).
func RootDir(s *Sandbox) string { return s.rootPath() }

// UIDRange is the first and last host uid the sandbox uses (tests only).
func UIDRange(s *Sandbox) (int, int) { return s.cfg.UIDBase, s.cfg.UIDBase + s.cfg.MaxRuns }

// KillSlot kills a warm slot's init, and with it its zygote (tests only).
func KillSlot(sl *Slot) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.z != nil {
		_ = sl.z.cmd.Process.Kill()
		<-sl.z.dead
	}
}

// Pid1Program is the tiny pid 1 of warm runs, made uid (tests only).
func Pid1Program(uid int) []byte {
	b, err := pid1Program(pid1Steps(uid))
	if err != nil {
		panic(err)
	}
	return b
}

// NewPortableSlot starts a warm slot that runs no machine code, as on an
// architecture that has none: the zygote makes each step's system call
// from Python and clones its own pid 1s (tests only).
func NewPortableSlot(s *Sandbox) (*Slot, error) { return s.newSlot("python", true) }
