package sandbox

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// denied are system calls a Python program never needs that widen the
// kernel's attack surface or reach outside the run: namespaces and mounts,
// tracing other processes, kernel keyrings, io_uring, BPF, perf, module and
// clock changes, file handles, LDT entries, page-cache probes of shared
// files, and the like. They fail with EPERM.
//
// Compared with Docker's default profile (an allow list), every call it
// blocks is denied here too, but for these, which a program may need:
// fchmodat2, futex_wait, futex_wake, futex_requeue and the *xattrat calls
// are newer forms of calls that both allow (fchmodat, futex, *xattr), which
// a newer libc uses in their place; map_shadow_stack and mseal only
// harden the caller's own memory (a libc with shadow stacks or sealing
// calls them at start). Docker allows some that are denied here:
// io_uring, name_to_handle_at, and modify_ldt on x86-64.
var denied = []string{
	"unshare", "setns",
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "open_tree_attr",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "listmount", "statmount",
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"keyctl", "add_key", "request_key",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "perf_event_open", "bpf", "fanotify_init",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"iopl", "ioperm", "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "lookup_dcookie",
	"name_to_handle_at", "open_by_handle_at",
	"sethostname", "setdomainname",
	"mbind", "migrate_pages", "move_pages", "set_mempolicy", "set_mempolicy_home_node", "get_mempolicy",
	"modify_ldt", "process_madvise", "cachestat", "uretprobe",
	"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules",
	// Not implemented on x86-64 (ENOSYS), denied all the same.
	"afs_syscall", "create_module", "get_kernel_syms", "getpmsg", "putpmsg", "query_module", "security",
	"tuxcall", "vserver",
}

// nsFlags are the clone flags that would make a new namespace.
const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// filterProgram assembles the run's seccomp filter: the native architecture
// only (anything else, such as int 0x80 on x86-64, kills the process), no
// x32, the denied calls, clone without namespace flags, clone3 answered
// ENOSYS (its flags hide in memory the filter cannot read; libc falls back
// to clone), sockets of the unix, inet and route-netlink families only, no
// terminal injection, and personality left as it is.
func filterProgram() ([]bpf.RawInstruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range denied {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	eq := func(arg uint32, v uint64) seccomp.Condition {
		return seccomp.Condition{Argument: arg, Operation: seccomp.Equal, Value: v}
	}
	ne := func(arg uint32, v uint64) seccomp.Condition {
		return seccomp.Condition{Argument: arg, Operation: seccomp.NotEqual, Value: v}
	}
	errno := func(e unix.Errno) seccomp.Action { return seccomp.ActionErrno | seccomp.Action(e) }
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: names},
			{Action: errno(unix.ENOSYS), Names: []string{"clone3"}},
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "clone", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: nsFlags}}},
				{Name: "socket", Conditions: seccomp.ArgumentConditions{eq(0, unix.AF_NETLINK), ne(2, unix.NETLINK_ROUTE)}},
				{Name: "ioctl", Conditions: seccomp.ArgumentConditions{eq(1, unix.TIOCSTI)}},
				{Name: "ioctl", Conditions: seccomp.ArgumentConditions{eq(1, unix.TIOCLINUX)}},
				{Name: "personality", Conditions: seccomp.ArgumentConditions{ne(0, 0), ne(0, 0xffffffff)}},
			}},
			{Action: errno(unix.EAFNOSUPPORT), NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "socket", Conditions: seccomp.ArgumentConditions{
					ne(0, unix.AF_UNIX), ne(0, unix.AF_INET), ne(0, unix.AF_INET6), ne(0, unix.AF_NETLINK)}},
			}},
		},
	}
	body, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	// The library sends a foreign architecture to the default action, which
	// is allow here; check the architecture first and kill on a mismatch.
	prog := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)},
	}, body...)
	return bpf.Assemble(prog)
}
