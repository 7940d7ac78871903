package sandbox

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"
)

// dropPrivileges makes the init the program's uid with no capabilities at
// all (bounding set included), not dumpable (so the program cannot read its
// memory or environment through /proc/1) and with no_new_privs.
//
// Per-thread state is set on the calling thread only: it is the init's main
// thread (package init runs there, locked), which alone starts the program,
// and the program inherits it. Doing it on every thread costs a signal to
// each, milliseconds a run.
func dropPrivileges(uid int) error {
	for c := 0; c <= unix.CAP_LAST_CAP+32; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
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
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for _, p := range [][2]uintptr{
		{unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL},
		{unix.PR_SET_DUMPABLE, 0},
		{unix.PR_SET_NO_NEW_PRIVS, 1},
		// A credential change clears the parent-death signal; set it again.
		{unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL)},
	} {
		if err := unix.Prctl(int(p[0]), p[1], 0, 0, 0); err != nil {
			return fmt.Errorf("prctl %d: %w", p[0], err)
		}
	}
	return nil
}

// landlockSelf forbids writing anywhere but the run's scratch space and the
// harmless devices, where the kernel has Landlock (best effort on older
// ABIs). The library builds the ruleset; the calling thread enforces it.
func landlockSelf() error {
	// File system rights and the abstract unix scope: the network
	// namespace, with no interface up, already confines the network.
	cfg := landlock.Config{HandledAccessFS: landlock.V6.HandledAccessFS, Scoped: llScoped}
	fd, flags, err := cfg.BestEffort().NewRulesetFD(
		landlock.RODirs("/"),
		landlock.RWDirs(scratchDirs...),
		landlock.RWFiles(devicePaths()...),
	)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	defer unix.Close(fd)
	if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), uintptr(flags), 0); e != 0 {
		return fmt.Errorf("landlock: %w", e)
	}
	return nil
}

// loadFilter installs the seccomp filter on the calling thread, which the
// program inherits, and hands its listener to the supervisor on the status
// channel (see serveNetlinkCap); the init keeps no copy.
func loadFilter(filter []syscall.SockFilter) error {
	prog := syscall.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	l, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	defer unix.Close(int(l))
	if err := unix.Sendmsg(fdStatus, listenerMsg, unix.UnixRights(int(l)), nil, 0); err != nil {
		return fmt.Errorf("seccomp: hand over the listener: %w", err)
	}
	return nil
}
