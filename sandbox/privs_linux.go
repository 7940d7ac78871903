package sandbox

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"
)

// dropPrivileges makes every thread of the init the program's uid with no
// capabilities at all (bounding set included), not dumpable (so the program
// cannot read its memory or environment through /proc/1) and with
// no_new_privs.
func dropPrivileges(uid int) error {
	for c := 0; c <= unix.CAP_LAST_CAP+32; c++ {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
			if err == unix.EINVAL { // past the kernel's last capability
				break
			}
			return fmt.Errorf("drop bounding capability %d: %w", c, err)
		}
	}
	// The Go runtime applies these to all threads; leaving uid 0 clears the
	// permitted and effective capabilities.
	if err := syscall.Setresgid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for _, p := range [][2]uintptr{
		{unix.PR_SET_DUMPABLE, 0},
		{unix.PR_SET_NO_NEW_PRIVS, 1},
		// A credential change clears the parent-death signal; set it again.
		{unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL)},
	} {
		if err := allThreads(unix.SYS_PRCTL, p[0], p[1], 0); err != nil {
			return fmt.Errorf("prctl %d: %w", p[0], err)
		}
	}
	return nil
}

func allThreads(trap, a1, a2, a3 uintptr) error {
	if _, _, e := syscall.AllThreadsSyscall(trap, a1, a2, a3); e != 0 {
		return e
	}
	return nil
}

// landlockRoot forbids writing anywhere but the run's scratch space and the
// harmless devices, where the kernel has Landlock (best effort on older
// kernels, a no-op where it is off).
func landlockRoot() error {
	err := landlock.V5.BestEffort().RestrictPaths(
		landlock.RODirs("/"),
		landlock.RWDirs(workDir, "/tmp", "/dev/shm"),
		landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"),
	)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}

// loadFilter installs the seccomp filter on every thread (TSYNC); the
// program inherits it.
func loadFilter(filter []syscall.SockFilter) error {
	prog := syscall.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	return nil
}
