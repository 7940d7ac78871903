//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

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
// calls them at start). Docker allows some that are denied here: ptrace
// and process_vm_*, io_uring, name_to_handle_at, adjtimex and
// clock_adjtime (read-only uses), and modify_ldt on x86-64.
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

// Seccomp return values.
const (
	retAllow      = unix.SECCOMP_RET_ALLOW
	retKill       = unix.SECCOMP_RET_KILL_PROCESS
	retUserNotify = unix.SECCOMP_RET_USER_NOTIF
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

// rule is one conditional rule: the call with every condition true gets
// action. Conditions compare an argument's low 32 bits, all that the
// kernel reads of the arguments ruled on here (int and unsigned int, and
// clone's flags, whose namespace bits are all low): a program cannot slip
// past a rule with high bits the kernel ignores.
type rule struct {
	call   string
	action uint32
	conds  []cond
}

type cond struct {
	arg int
	op  bpf.JumpTest // JumpEqual, JumpNotEqual or JumpBitsSet
	val uint32
}

func eq(arg int, v uint32) cond      { return cond{arg, bpf.JumpEqual, v} }
func ne(arg int, v uint32) cond      { return cond{arg, bpf.JumpNotEqual, v} }
func bitsSet(arg int, v uint32) cond { return cond{arg, bpf.JumpBitsSet, v} }

// rules are checked in order, after the denied calls; the first that holds
// decides.
var rules = []rule{
	{"clone", retErrno(unix.EPERM), []cond{bitsSet(0, nsFlags)}},
	// Sockets of the unix, inet and netlink families only; of netlink, the
	// route protocol only.
	{"socket", retErrno(unix.EAFNOSUPPORT), []cond{
		ne(0, unix.AF_UNIX), ne(0, unix.AF_INET), ne(0, unix.AF_INET6), ne(0, unix.AF_NETLINK)}},
	{"socket", retErrno(unix.EPERM), []cond{eq(0, unix.AF_NETLINK), ne(2, unix.NETLINK_ROUTE)}},
	// A netlink socket's queue is memory no cgroup is charged for: the
	// supervisor counts them (serveSockets), and no socket's receive
	// buffer grows past the default.
	{"socket", retUserNotify, []cond{eq(0, unix.AF_NETLINK)}},
	// Any other socket, too, that the supervisor may know that the run
	// touched its network namespace (a warm slot's next run gets a fresh
	// one: status.go, netUse).
	{"socket", retUserNotify, nil},
	{"socketpair", retUserNotify, nil},
	{"setsockopt", retErrno(unix.EPERM), []cond{eq(1, unix.SOL_SOCKET), eq(2, unix.SO_RCVBUF)}},
	{"setsockopt", retErrno(unix.EPERM), []cond{eq(1, unix.SOL_SOCKET), eq(2, unix.SO_RCVBUFFORCE)}},
	// No terminal injection; personality left as it is (0xffffffff reads it).
	{"ioctl", retErrno(unix.EPERM), []cond{eq(1, unix.TIOCSTI)}},
	{"ioctl", retErrno(unix.EPERM), []cond{eq(1, unix.TIOCLINUX)}},
	{"personality", retErrno(unix.EPERM), []cond{ne(0, 0), ne(0, 0xffffffff)}},
}

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// filterProgram assembles the run's seccomp filter: the native
// architecture only (anything else, such as int 0x80 on x86-64, kills the
// process), no x32, then a binary search on the call's number that leads
// each call named here to what it gets: the denied calls EPERM, clone3
// ENOSYS (its flags hide in memory the filter cannot read; libc falls back
// to clone), a call with rules its rules in order; everything else is
// allowed. A search of a few steps, not a list of every name, costs each
// filtered call little, and the kernel little as it installs the filter
// (it runs the filter for every call number to learn which calls it always
// allows). Each rule loads what it tests, the call's number included, so
// that a rule that fails leaves nothing behind for the next.
func filterProgram() ([]bpf.RawInstruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: retKill},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	if info.ID == arch.X86_64.ID { // x32 calls set this bit of the number
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: uint32(arch.X32.SeccompMask), SkipFalse: 1},
			bpf.RetConstant{Val: retErrno(unix.ENOSYS)})
	}
	// handlers: what each call named here gets, by its number.
	handlers := map[uint32][]bpf.Instruction{}
	ruled := map[uint32]bool{}
	answer := func(name string, action uint32) {
		if n, ok := info.SyscallNames[name]; ok {
			handlers[uint32(n)] = []bpf.Instruction{bpf.RetConstant{Val: action}}
		}
	}
	for _, name := range denied {
		answer(name, retErrno(unix.EPERM))
	}
	answer("clone3", retErrno(unix.ENOSYS))
	for _, r := range rules {
		n, ok := info.SyscallNames[r.call]
		if !ok {
			return nil, fmt.Errorf("seccomp: no system call %s here", r.call)
		}
		if handlers[uint32(n)] != nil && !ruled[uint32(n)] {
			return nil, fmt.Errorf("seccomp: %s is denied and has rules", r.call)
		}
		ruled[uint32(n)] = true
		handlers[uint32(n)] = append(handlers[uint32(n)], r.assemble(uint32(n))...)
	}
	for n := range ruled { // a call whose rules all fail is allowed
		handlers[n] = append(handlers[n], bpf.RetConstant{Val: retAllow})
	}
	search, err := searchTree(slices.Sorted(maps.Keys(handlers)), handlers)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(append(prog, search...))
}

// leafCalls is how many calls a leaf of the search tests one by one.
const leafCalls = 8

// searchTree is the instructions that take the call whose number is in
// the accumulator to its handler, nrs (sorted) being the numbers that have
// one: a binary search that ends in leaves of a few equality tests, each
// leaf followed by its calls' handlers (one of each return for those that
// only return). A call not among nrs is allowed.
func searchTree(nrs []uint32, handlers map[uint32][]bpf.Instruction) ([]bpf.Instruction, error) {
	if len(nrs) <= leafCalls {
		var tests, bodies []bpf.Instruction
		at := make([]int, len(nrs))       // each handler's place among the bodies
		rets := map[bpf.Instruction]int{} // the handlers that only return, made once
		for i, n := range nrs {
			h := handlers[n]
			if len(h) == 1 {
				if j, ok := rets[h[0]]; ok {
					at[i] = j
					continue
				}
				rets[h[0]] = len(bodies)
			}
			at[i] = len(bodies)
			bodies = append(bodies, h...)
		}
		for i, n := range nrs {
			skip, err := jump(len(nrs) - 1 - i + 1 + at[i]) // the tests after this one, the allow, the bodies before its
			if err != nil {
				return nil, err
			}
			tests = append(tests, bpf.JumpIf{Cond: bpf.JumpEqual, Val: n, SkipTrue: skip})
		}
		return append(append(tests, bpf.RetConstant{Val: retAllow}), bodies...), nil
	}
	mid := len(nrs) / 2
	below, err := searchTree(nrs[:mid], handlers)
	if err != nil {
		return nil, err
	}
	above, err := searchTree(nrs[mid:], handlers)
	if err != nil {
		return nil, err
	}
	skip, err := jump(len(below))
	if err != nil {
		return nil, err
	}
	node := bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: nrs[mid], SkipTrue: skip}
	return append(append([]bpf.Instruction{node}, below...), above...), nil
}

// jump is a conditional jump over n instructions, as BPF counts it (at
// most 255).
func jump(n int) (uint8, error) {
	if n > 255 {
		return 0, fmt.Errorf("seccomp: a jump of %d instructions", n)
	}
	return uint8(n), nil
}

// assemble is the rule as instructions that end in its action and jump
// past it when a test fails.
func (r rule) assemble(nr uint32) []bpf.Instruction {
	var out []bpf.Instruction
	var fails []int // the tests whose failure jumps past the rule
	test := func(off uint32, op bpf.JumpTest, v uint32) {
		out = append(out, bpf.LoadAbsolute{Off: off, Size: 4})
		fails = append(fails, len(out))
		// A JumpIf's skip on failure is set below.
		out = append(out, bpf.JumpIf{Cond: op, Val: v})
	}
	test(offNr, bpf.JumpEqual, nr)
	for _, c := range r.conds {
		test(argLow(c.arg), c.op, c.val)
	}
	out = append(out, bpf.RetConstant{Val: r.action})
	for _, i := range fails {
		j := out[i].(bpf.JumpIf)
		j.SkipFalse = uint8(len(out) - i - 1)
		out[i] = j
	}
	return out
}

// argLow is the offset of an argument's low 32 bits in seccomp_data.
func argLow(arg int) uint32 {
	off := uint32(offArgs + 8*arg)
	if bigEndian {
		off += 4
	}
	return off
}

var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
