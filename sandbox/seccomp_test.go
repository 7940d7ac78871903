//go:build linux

package sandbox

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestFilterDecisions runs the filter in a BPF interpreter. The
// interpreter loads words big-endian, as packets are, so each 32-bit word
// of seccomp_data is laid out that way where the filter reads it.
func TestFilterDecisions(t *testing.T) {
	raw, err := filterProgram()
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the filter does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	call := func(archID uint32, nr int, args ...uint64) uint32 {
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[offNr:], uint32(nr))
		binary.BigEndian.PutUint32(data[offArch:], archID)
		for i, a := range args {
			binary.BigEndian.PutUint32(data[argLow(i):], uint32(a))
			binary.BigEndian.PutUint32(data[argLow(i)^4:], uint32(a>>32))
		}
		r, err := vm.Run(data)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(r)
	}
	native := uint32(info.ID)
	const high = 1 << 32 // bits the kernel drops from an int argument
	for _, c := range []struct {
		name string
		nr   int
		args []uint64
		want uint32
	}{
		{"read", unix.SYS_READ, []uint64{0, 0, 10}, retAllow},
		// Every socket the filter lets through goes by the supervisor,
		// which notes that the run touched its network namespace.
		{"unix socket", unix.SYS_SOCKET, []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retUserNotify},
		{"inet6 socket", unix.SYS_SOCKET, []uint64{unix.AF_INET6, unix.SOCK_DGRAM, 0}, retUserNotify},
		{"socketpair", unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retUserNotify},
		{"packet socket", unix.SYS_SOCKET, []uint64{unix.AF_PACKET, unix.SOCK_RAW, 0}, retErrno(unix.EAFNOSUPPORT)},
		{"crypto socket", unix.SYS_SOCKET, []uint64{unix.AF_ALG, unix.SOCK_SEQPACKET, 0}, retErrno(unix.EAFNOSUPPORT)},
		{"vsock with high bits", unix.SYS_SOCKET, []uint64{high | unix.AF_VSOCK, unix.SOCK_STREAM, 0}, retErrno(unix.EAFNOSUPPORT)},
		{"route netlink", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE}, retUserNotify},
		{"audit netlink", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT}, retErrno(unix.EPERM)},
		{"netlink with high bits", unix.SYS_SOCKET, []uint64{high | unix.AF_NETLINK, unix.SOCK_RAW, high | unix.NETLINK_ROUTE}, retUserNotify},
		{"TIOCSTI", unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, retErrno(unix.EPERM)},
		{"TIOCSTI with high bits", unix.SYS_IOCTL, []uint64{0, high | unix.TIOCSTI}, retErrno(unix.EPERM)},
		{"other ioctl", unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, retAllow},
		{"modify_ldt", unix.SYS_MODIFY_LDT, []uint64{0, 0, 16}, retErrno(unix.EPERM)},
		{"clone a thread", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_THREAD}, retAllow},
		{"clone a user namespace", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}, retErrno(unix.EPERM)},
		{"clone3", unix.SYS_CLONE3, nil, retErrno(unix.ENOSYS)},
		{"read personality", unix.SYS_PERSONALITY, []uint64{0xffffffff}, retAllow},
		{"set personality", unix.SYS_PERSONALITY, []uint64{0x0040000}, retErrno(unix.EPERM)},
		{"SO_RCVBUF", unix.SYS_SETSOCKOPT, []uint64{3, unix.SOL_SOCKET, unix.SO_RCVBUF}, retErrno(unix.EPERM)},
		{"SO_SNDBUF", unix.SYS_SETSOCKOPT, []uint64{3, unix.SOL_SOCKET, unix.SO_SNDBUF}, retAllow},
		{"TCP option 8", unix.SYS_SETSOCKOPT, []uint64{3, unix.IPPROTO_TCP, unix.SO_RCVBUF}, retAllow},
		// A rule that fails must not leave an argument where the next rule
		// reads the call's number: socket(16 = ioctl's number, ...).
		{"socket after a failed rule", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.TIOCSTI, unix.NETLINK_ROUTE}, retUserNotify},
		{"x32", unix.SYS_READ | 0x40000000, nil, retErrno(unix.ENOSYS)},
	} {
		if got := call(native, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
	if got := call(0x40000003, unix.SYS_READ); got != retKill { // AUDIT_ARCH_I386
		t.Errorf("a foreign architecture: %#x, want kill", got)
	}

	// Every call number, with arguments from values the rules name: the
	// search gives what the lists say.
	values := []uint64{0, unix.AF_UNIX, unix.AF_NETLINK, unix.NETLINK_AUDIT, unix.SOL_SOCKET, unix.SO_RCVBUF,
		unix.TIOCSTI, unix.CLONE_NEWNET | unix.CLONE_VM, 0xffffffff}
	for nr := range 600 {
		for _, a := range values {
			for _, b := range values {
				for _, c := range values {
					if got, want := call(native, nr, a, b, c), listed(info.SyscallNumbers[nr], a, b, c); got != want {
						t.Fatalf("call %d (%s) with %#x %#x %#x: %#x, want %#x", nr, info.SyscallNumbers[nr], a, b, c, got, want)
					}
				}
			}
		}
	}
}

// listed is what the lists (denied, rules) give the native call name
// with arguments args.
func listed(name string, args ...uint64) uint32 {
	switch {
	case slices.Contains(denied, name):
		return retErrno(unix.EPERM)
	case name == "clone3":
		return retErrno(unix.ENOSYS)
	}
	for _, r := range rules {
		holds := r.call == name
		for _, c := range r.conds {
			v := uint32(args[c.arg])
			switch c.op {
			case bpf.JumpEqual:
				holds = holds && v == c.val
			case bpf.JumpNotEqual:
				holds = holds && v != c.val
			case bpf.JumpBitsSet:
				holds = holds && v&c.val != 0
			}
		}
		if holds {
			return r.action
		}
	}
	return retAllow
}
