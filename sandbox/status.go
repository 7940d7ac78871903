//go:build linux

package sandbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statusPair makes a run's status channel: a SOCK_SEQPACKET pair, one
// message per record, so that the run can hand over its seccomp listener
// with its setup messages. ours is in Go's poller; theirs, which the
// supervisor only hands on, stays blocking.
func statusPair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "status"), os.NewFile(uintptr(fds[1]), "status"), nil
}

// readStatus passes on the init's (or the zygote's) status messages until
// the run's side closes, and serves the run's seccomp listener, which
// comes with the message that says so (Listener), until then; net hears
// of the run's sockets.
func readStatus(f *os.File, out chan<- initMsg, net *netUse) {
	defer close(out)
	var listener *os.File
	defer func() {
		if listener != nil {
			listener.Close()
		}
	}()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	for {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err != nil || rerr != nil || n == 0 {
			return
		}
		for _, fd := range passedFDs(oob[:oobn]) {
			if listener == nil {
				listener = serveSockets(fd, net)
			} else {
				unix.Close(fd)
			}
		}
		for _, line := range bytes.Split(buf[:n], []byte("\n")) {
			var m initMsg
			if len(line) > 0 && json.Unmarshal(line, &m) == nil && !m.Listener {
				out <- m
			}
		}
	}
}

// passedFDs are the descriptors in a message's control data.
func passedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []int
	for _, m := range msgs {
		if fds, err := unix.ParseUnixRights(&m); err == nil {
			out = append(out, fds...)
		}
	}
	return out
}

// maxNetlink is how many netlink sockets a run may open. A netlink
// socket's queue of replies is memory that no cgroup is charged for (the
// kernel allocates its messages unaccounted), so a run holds at most
// maxNetlink times a socket's receive buffer (its default: the seccomp
// filter refuses SO_RCVBUF) of it; the C library opens one for each
// if_nameindex or getifaddrs, and closes it.
const maxNetlink = 16

// seccompNotif and seccompNotifResp are the kernel's struct seccomp_notif
// and struct seccomp_notif_resp.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  [64]byte // struct seccomp_data
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// netUse says whether a run made a socket (any family, a socketpair
// included): only then may it have left anything in its network
// namespace (a socket, an abstract unix name, a counter). Nothing else
// reaches a network namespace's state: io_uring, BPF and setns are
// denied, /proc/sys is read-only, and a run inherits no socket. The zero
// value is a run that made none.
type netUse struct{ used atomic.Bool }

// touched reports whether the run made a socket; a nil netUse, a run
// whose namespace goes with it (cold), says false.
func (n *netUse) touched() bool { return n != nil && n.used.Load() }

// serveSockets answers, on a goroutine of its own, the run's seccomp
// listener, to which the filter sends each socket and socketpair: each
// goes ahead, recorded in net (when set), but for the netlink sockets
// after the first maxNetlink, which fail with EMFILE. It returns the
// listener, for the caller to close when the run is over; it stops then,
// or when no process of the run is left.
func serveSockets(fd int, net *netUse) *os.File {
	_ = unix.SetNonblock(fd, true) // for Go's poller
	l := os.NewFile(uintptr(fd), "seccomp listener")
	rc, err := l.SyscallConn()
	if err != nil {
		return l
	}
	go func() {
		for opened := 0; ; {
			var req seccompNotif
			gone, got := false, false
			err := rc.Read(func(fd uintptr) bool {
				p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				if n, err := unix.Poll(p, 0); err != nil || n == 0 {
					return false // wait for the poller
				}
				if p[0].Revents&unix.POLLIN == 0 { // POLLHUP: no process of the run is left
					gone = true
					return true
				}
				req = seccompNotif{}
				// ENOENT: the caller died before its request was read.
				got = ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)) == nil
				return true
			})
			if err != nil || gone {
				return
			}
			if !got {
				continue
			}
			if net != nil {
				net.used.Store(true) // before the socket is made
			}
			resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			if isNetlink(req) {
				if opened++; opened > maxNetlink {
					resp.Flags, resp.Error = 0, -int32(unix.EMFILE)
				}
			}
			_ = rc.Control(func(fd uintptr) {
				_ = ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
			})
		}
	}()
	return l
}

// isNetlink reports whether a notification is of socket(AF_NETLINK, ...).
func isNetlink(req seccompNotif) bool {
	nr := binary.NativeEndian.Uint32(req.Data[offNr:])
	family := binary.NativeEndian.Uint64(req.Data[offArgs:])
	return nr == unix.SYS_SOCKET && family == unix.AF_NETLINK
}

func ioctlPtr(fd uintptr, req uint, p unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(p)); e != 0 {
		return e
	}
	return nil
}
