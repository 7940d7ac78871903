//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A step is one system call of what a run's program gets: its /proc, its
// scratch space, its cgroup, its limits, its privileges, its Landlock
// domain and its seccomp filter. The policy below lists them once, in
// order; each launcher carries the list out as it is, deciding nothing: a
// fresh run's init with Go's system calls (init_confine.go), a warm run's
// own process with the zygote's step runner (zygote.py).
type step struct {
	What string    `json:"what"` // names the step in the error if it fails
	NR   uintptr   `json:"nr"`   // this architecture's system call number
	Args []stepArg `json:"args"`
}

// stepArg is one argument of a step: a number (N), the address of bytes
// (B: a NUL-terminated string, a struct), or a value that only the process
// that carries the step out has (Ref, the K-th of its kind).
type stepArg struct {
	N   uint64 `json:"n,omitempty"`
	B   []byte `json:"b,omitempty"`
	Ref string `json:"ref,omitempty"`
	K   int    `json:"k,omitempty"`
}

// The values a step may refer to (stepArg.Ref).
const (
	refCgroup      = "cgroup"      // the K-th cgroup.procs file of the program's cgroup, open for writing
	refRlimit      = "rlimit"      // the address of the run's K-th limit, {cur, max}, for the policy's K-th resource
	refRuleset     = "ruleset"     // the run's Landlock ruleset
	refFilter      = "filter"      // the address of the seccomp filter's struct sock_fprog
	refStdio       = "stdio"       // the run's K-th descriptor as the zygote got it: stdin, stdout, stderr, status
	refListenerMsg = "listenerMsg" // the address of the msghdr that hands over the seccomp listener (warm)
)

func num(n uint64) stepArg           { return stepArg{N: n} }
func str(s string) stepArg           { return stepArg{B: append([]byte(s), 0)} }
func ref(name string, k int) stepArg { return stepArg{Ref: name, K: k} }
func call(what string, nr uintptr, args ...stepArg) step {
	return step{What: what, NR: nr, Args: args}
}

// policy is what a run's program gets, the same on both paths; its steps
// are built from it.
type policy struct {
	uid      int   // the program's uid and gid
	cgroups  int   // how many cgroup.procs files the program joins
	rlimits  []int // the resources limited, in the order of the run's values (rlimits)
	capLast  int   // the kernel's last capability
	landlock bool  // whether Landlock confines the program too
}

// mountFlags are what every mount of a run's own has; its /proc is
// noexec too. The scratch space is not: a program may run what it wrote
// there (a script, a copy of a binary, shutil.which's finds), as on any
// machine. noexec there would be defence in depth only, since Python runs
// arbitrary code anyway; the barrier is the namespaces, seccomp, Landlock,
// the uid and the cgroups.
const mountFlags = unix.MS_NOSUID | unix.MS_NODEV

// procSteps mount a fresh /proc at proc, /proc/sys read-only over it, and
// the host's entries masked (procMasks).
func procSteps(proc string, masks []procMask) []step {
	steps := []step{
		call("mount "+proc, unix.SYS_MOUNT, str("proc"), str(proc), str("proc"), num(mountFlags|unix.MS_NOEXEC), num(0)),
		call("mount "+proc+"/sys", unix.SYS_MOUNT, str(proc+"/sys"), str(proc+"/sys"), num(0), num(unix.MS_BIND|unix.MS_REC), num(0)),
		call("remount "+proc+"/sys", unix.SYS_MOUNT, str(""), str(proc+"/sys"), num(0),
			num(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|mountFlags|unix.MS_NOEXEC), num(0)),
	}
	for _, m := range masks {
		p := proc + "/" + m.Path
		if m.Dir {
			steps = append(steps, call("mask "+p, unix.SYS_MOUNT, str("tmpfs"), str(p), str("tmpfs"),
				num(unix.MS_RDONLY|mountFlags|unix.MS_NOEXEC), str("mode=0555")))
		} else {
			steps = append(steps, call("mask "+p, unix.SYS_MOUNT, str("/dev/null"), str(p), num(0), num(unix.MS_BIND), num(0)))
		}
	}
	return steps
}

// scratchDirs are the run's scratch space, each a capped tmpfs that the
// program owns, and their modes. The program may write only there and to
// the harmless devices (landlockRules).
var scratchDirs = []struct{ path, mode string }{{workDir, "0700"}, {"/tmp", "1777"}, {"/dev/shm", "1777"}}

// scratchSteps mount the scratch space under root (the mount points
// exist): bytes and inodes each.
func scratchSteps(root string, bytes, inodes int64, uid int) []step {
	var steps []step
	for _, d := range scratchDirs {
		opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=%s,uid=%d,gid=%d", bytes, inodes, d.mode, uid, uid)
		steps = append(steps, call("mount "+d.path, unix.SYS_MOUNT, str("tmpfs"), str(root+d.path), str("tmpfs"), num(mountFlags), str(opts)))
	}
	return steps
}

// join moves the caller into the program's cgroup and a cgroup namespace
// rooted there, so that the program sees only its own.
func (p policy) join() []step {
	var steps []step
	for k := range p.cgroups {
		steps = append(steps, call("join cgroup", unix.SYS_WRITE, ref(refCgroup, k), str("0"), num(1)))
	}
	return append(steps, call("unshare cgroup namespace", unix.SYS_UNSHARE, num(unix.CLONE_NEWCGROUP)))
}

// confine sets the program's limits and drops every privilege: no
// capability at all (bounding and ambient sets included), the program's
// uid and gid with no groups, not dumpable (so that it cannot read its
// memory or environment through /proc), no_new_privs, killed with its
// parent, and Landlock's domain. The seccomp filter (filter) comes last,
// after the launcher's own steps.
func (p policy) confine() []step {
	var steps []step
	for k, res := range p.rlimits {
		steps = append(steps, call(fmt.Sprintf("setrlimit %d", res), unix.SYS_PRLIMIT64, num(0), num(uint64(res)), ref(refRlimit, k), num(0)))
	}
	for c := 0; c <= p.capLast; c++ {
		steps = append(steps, call(fmt.Sprintf("drop capability %d", c), unix.SYS_PRCTL, num(unix.PR_CAPBSET_DROP), num(uint64(c))))
	}
	id := num(uint64(p.uid))
	// struct __user_cap_header_struct, then two empty data structs.
	caps := binary.LittleEndian.AppendUint32(nil, unix.LINUX_CAPABILITY_VERSION_3)
	caps = append(caps, make([]byte, 4+2*12)...)
	steps = append(steps,
		call("setgroups", unix.SYS_SETGROUPS, num(0), num(0)),
		call("setresgid", unix.SYS_SETRESGID, id, id, id),
		call("setresuid", unix.SYS_SETRESUID, id, id, id),
		call("capset", unix.SYS_CAPSET, stepArg{B: caps[:8]}, stepArg{B: caps[8:]}),
		call("clear ambient capabilities", unix.SYS_PRCTL, num(unix.PR_CAP_AMBIENT), num(unix.PR_CAP_AMBIENT_CLEAR_ALL)),
		call("not dumpable", unix.SYS_PRCTL, num(unix.PR_SET_DUMPABLE), num(0)),
		call("no_new_privs", unix.SYS_PRCTL, num(unix.PR_SET_NO_NEW_PRIVS), num(1)),
		// A credential change clears the parent-death signal: set it again.
		call("parent-death signal", unix.SYS_PRCTL, num(unix.PR_SET_PDEATHSIG), num(uint64(unix.SIGKILL))),
	)
	if p.landlock {
		steps = append(steps, call("landlock", unix.SYS_LANDLOCK_RESTRICT_SELF, ref(refRuleset, 0), num(0)))
	}
	return steps
}

// filter installs the seccomp filter; its result is the filter's listener,
// which the launcher hands to the supervisor (serveSockets).
func filter() step {
	return call("seccomp", unix.SYS_SECCOMP, num(unix.SECCOMP_SET_MODE_FILTER),
		num(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER), ref(refFilter, 0))
}

// pid1Steps make a warm run's pid 1 the program's uid, as a fresh run's
// init is, so that the program may signal it as it could elsewhere; the
// tiny pid 1 (pid1_amd64.go) is compiled from them.
func pid1Steps(uid int) []step {
	id := num(uint64(uid))
	return []step{
		call("setgroups", unix.SYS_SETGROUPS, num(0), num(0)),
		call("setresgid", unix.SYS_SETRESGID, id, id, id),
		call("setresuid", unix.SYS_SETRESUID, id, id, id),
		call("not dumpable", unix.SYS_PRCTL, num(unix.PR_SET_DUMPABLE), num(0)),
	}
}

// capLast is the running kernel's last capability.
func capLast() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil {
		return n
	}
	return unix.CAP_LAST_CAP
}
