//go:build linux

package sandbox

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// This file runs in a fresh run's init: it carries out the policy's steps
// (policy.go) that the supervisor sent in its config.

// allThreads are the calls that Go must make on every thread of the
// process: the Go runtime keeps the credentials of its threads the same.
// The others change the calling thread only: the init's main thread
// (package init runs there, locked), which alone starts the program;
// doing them on every thread costs a signal to each, milliseconds a run.
var allThreads = map[uintptr]bool{unix.SYS_SETGROUPS: true, unix.SYS_SETRESGID: true, unix.SYS_SETRESUID: true}

// carryOut makes the steps' system calls in order and returns the last
// one's result; it stops at the first that fails. val gives the value of
// each argument that refers to the init's own (stepArg.Ref).
func carryOut(steps []step, val func(stepArg) (uintptr, error)) (uintptr, error) {
	var r uintptr
	for _, st := range steps {
		var a [6]uintptr
		for i, arg := range st.Args {
			switch {
			case arg.Ref != "":
				v, err := val(arg)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", st.What, err)
				}
				a[i] = v
			case arg.B != nil:
				a[i] = uintptr(unsafe.Pointer(&arg.B[0]))
			default:
				a[i] = uintptr(arg.N)
			}
		}
		var e syscall.Errno
		if allThreads[st.NR] {
			r, _, e = syscall.AllThreadsSyscall6(st.NR, a[0], a[1], a[2], a[3], a[4], a[5])
		} else {
			r, _, e = unix.RawSyscall6(st.NR, a[0], a[1], a[2], a[3], a[4], a[5])
		}
		runtime.KeepAlive(st.Args) // what the addresses point to
		if e != 0 {
			return 0, fmt.Errorf("%s: %w", st.What, e)
		}
	}
	return r, nil
}

// initValues are the values of a fresh run's init that steps refer to.
type initValues struct {
	cgroups []int       // the program's cgroup.procs descriptors
	rlimits [][2]uint64 // the run's limits, {cur, max}
	ruleset int         // the Landlock ruleset, or -1
	fprog   *syscall.SockFprog
}

func (v *initValues) val(a stepArg) (uintptr, error) {
	switch {
	case a.Ref == refCgroup && a.K < len(v.cgroups):
		return uintptr(v.cgroups[a.K]), nil
	case a.Ref == refRlimit && a.K < len(v.rlimits):
		return uintptr(unsafe.Pointer(&v.rlimits[a.K])), nil
	case a.Ref == refRuleset && v.ruleset >= 0:
		return uintptr(v.ruleset), nil
	case a.Ref == refFilter:
		return uintptr(unsafe.Pointer(v.fprog)), nil
	}
	return 0, fmt.Errorf("the init has no %s %d", a.Ref, a.K)
}

// confineInit carries out c's Confine steps, which end with the seccomp
// filter, and hands the filter's listener to the supervisor on the status
// channel (see serveSockets); the init keeps no copy.
func confineInit(c *initConfig) error {
	// Go restores the soft limit on open files that it found at start in
	// every process it starts, unless the limit was set through it: set it
	// through it (to what it is), so that the policy's stands.
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err == nil {
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nofile)
	}
	v := initValues{ruleset: -1, fprog: &syscall.SockFprog{Len: uint16(len(c.Filter)), Filter: &c.Filter[0]}}
	for k := range c.ProgProcs {
		v.cgroups = append(v.cgroups, fdCgroup+k)
	}
	for _, r := range c.Rlimits {
		v.rlimits = append(v.rlimits, [2]uint64{r.Value, r.Value})
	}
	if c.Landlock != nil {
		fd, err := c.Landlock.ruleset()
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		v.ruleset = fd
	}
	l, err := carryOut(c.Confine, v.val)
	if err != nil {
		return err
	}
	defer unix.Close(int(l))
	runtime.KeepAlive(c.Filter)
	for k := range c.ProgProcs {
		_ = unix.Close(fdCgroup + k)
	}
	if err := unix.Sendmsg(fdStatus, listenerMsg, unix.UnixRights(int(l)), nil, 0); err != nil {
		return fmt.Errorf("seccomp: hand over the listener: %w", err)
	}
	return nil
}

// ruleset makes the Landlock ruleset of the rules, as the zygote's
// landlock_ruleset does.
func (r *llRules) ruleset() (int, error) {
	fd, err := llsys.LandlockCreateRuleset(&llsys.RulesetAttr{HandledAccessFS: r.Handled, Scoped: r.Scoped}, 0)
	if err != nil {
		return -1, fmt.Errorf("landlock: %w", err)
	}
	for _, p := range r.Paths {
		pfd, err := unix.Open(p.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			err = llsys.LandlockAddPathBeneathRule(fd, &llsys.PathBeneathAttr{AllowedAccess: p.Rights, ParentFd: pfd}, 0)
			unix.Close(pfd)
		}
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("landlock %s: %w", p.Path, err)
		}
	}
	return fd, nil
}
