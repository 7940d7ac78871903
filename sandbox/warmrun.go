//go:build linux

package sandbox

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// warmJob is what the zygote gets for one run (see zygote.py): the run's
// settings, never its code, stdin or output, which reach the run's own
// process only, as descriptors the zygote passes on unread.
type warmJob struct {
	UID           int      `json:"uid"`
	ScratchBytes  int64    `json:"scratchBytes"`
	ScratchInodes int64    `json:"scratchInodes"`
	Rlimits       []rlimit `json:"rlimits"`
}

// zygoteSetup is what a zygote gets once, as its argument: what is the
// same for all its runs.
type zygoteSetup struct {
	Filter   string             `json:"filter"` // base64 of the struct sock_filter array
	Landlock *llRules           `json:"landlock"`
	Syscalls map[string]uintptr `json:"syscalls"` // see stepSyscalls
	Runner   []byte             `json:"runner"`   // see stepRunner (base64)
	CapLast  int                `json:"capLast"`  // the kernel's last capability
	Argv0    string             `json:"argv0"`    // the runtime's binary, as sys.orig_argv[0]
	CPU      int                `json:"cpu"`      // the slot's CPU
	Masks    []procMask         `json:"masks"`    // the /proc entries to mask
}

// launchWarm hands the run to the slot's zygote.
func (r *run) launchWarm(p *pipes) (*launched, error) {
	z := r.slot.z
	join, err := r.cg.JoinFiles()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	c := r.config()
	msg, err := json.Marshal(warmJob{UID: programUID, ScratchBytes: c.ScratchBytes,
		ScratchInodes: c.ScratchInodes, Rlimits: c.Rlimits})
	if err != nil {
		return nil, err
	}
	code, err := sealedFile(c.Code)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer code.Close()
	fds := []int{int(p.stdinR.Fd()), int(p.stdoutW.Fd()), int(p.stderrW.Fd()), int(p.statusW.Fd()), int(code.Fd())}
	for _, f := range join {
		fds = append(fds, int(f.Fd()))
	}
	if err := send(z.ctl, msg, unix.UnixRights(fds...)); err != nil {
		z.kill() // a zygote that does not listen is replaced at the next run
		return nil, fmt.Errorf("sandbox: hand the run to the zygote: %w", err)
	}
	p.closeChildEnds()
	msgs := make(chan initMsg, 4)
	go readStatus(p.statusR, msgs)
	return &launched{msgs: msgs, stop: func() {
		if err := r.cg.Kill(10 * time.Second); err != nil {
			r.s.cfg.Logger.Error("sandbox: kill a run", "err", err)
		}
		// The zygote closes the status channel's last copy once it has
		// reported the program's end and reaped the run's pid 1.
		timeout := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-msgs:
				if ok {
					continue
				}
			case <-timeout:
				r.s.cfg.Logger.Error("sandbox: a warm run's pid 1 did not end")
			}
			return
		}
	}}, nil
}

// sealedFile is a memory file holding b that no one can change: the run's
// program copies its code from it (the zygote only passes it on).
func sealedFile(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("main.py", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "main.py")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func send(f *os.File, msg, oob []byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), msg, oob, nil, 0)
		return serr != unix.EAGAIN
	})
	return errors.Join(err, serr)
}

func filterBase64(f []syscall.SockFilter) string {
	b := make([]byte, 0, 8*len(f))
	for _, ins := range f {
		b = binary.LittleEndian.AppendUint16(b, ins.Code)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.LittleEndian.AppendUint32(b, ins.K)
	}
	return base64.StdEncoding.EncodeToString(b)
}
