//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
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

// ZygoteMemory is what the kernel counts of a warm slot's idle zygote, in
// KiB: VmRSS, and AnonHugePages (tests only).
func ZygoteMemory(sl *Slot) (rss, huge int64, err error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.z == nil {
		return 0, 0, os.ErrNotExist
	}
	pid := strconv.Itoa(sl.z.cmd.Process.Pid)
	if kids, err := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children"); err == nil && len(strings.Fields(string(kids))) > 0 {
		pid = strings.Fields(string(kids))[0] // the zygote, where the init forked it
	}
	read := func(file, key string) int64 {
		b, err2 := os.ReadFile("/proc/" + pid + "/" + file)
		if err2 != nil {
			err = err2
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
		return 0
	}
	return read("status", "VmRSS"), read("smaps_rollup", "AnonHugePages"), err
}
