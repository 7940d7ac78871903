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
	UID     int      `json:"uid"`
	Scratch []step   `json:"scratch"` // mount the run's scratch space
	Rlimits []uint64 `json:"rlimits"` // the values of the policy's limits, in its order
	// Unbuffered writes the program's output through (python3 -u).
	Unbuffered bool `json:"unbuffered,omitempty"`
	// FreshNet moves the zygote into a fresh network namespace before the
	// run: the last run made a socket (netUse).
	FreshNet bool `json:"freshNet,omitempty"`
}

// zygoteSetup is what a zygote gets once, as its argument: what is the
// same for all its runs, the policy's steps (policy.go) among it.
type zygoteSetup struct {
	// Program is what the run's own process (C) carries out: its /proc,
	// its cgroup, its limits and privileges, its stdio, the seccomp filter,
	// and the handing over of the filter's listener on the status channel.
	Program []step `json:"program"`
	ProcEnd int    `json:"procEnd"` // Program's steps before it mount /proc (B's, where B is pid 1)
	CopyAt  int    `json:"copyAt"`  // where C copies its code: in its cgroup, before its limits
	Pid1    []step `json:"pid1"`    // what B carries out (pid1Steps)
	// Detach is what the zygote carries out after each run (detachSteps).
	Detach []step `json:"detach"`
	// ListenerFD is the seccomp listener's descriptor in C: the lowest
	// free one once Program has closed all but stdio and the status
	// channel.
	ListenerFD int                `json:"listenerFD"`
	Filter     string             `json:"filter"` // base64 of the struct sock_filter array
	Landlock   *llRules           `json:"landlock"`
	Syscalls   map[string]uintptr `json:"syscalls"` // what the zygote calls itself
	Runner     []byte             `json:"runner"`   // see stepRunner (base64)
	Argv0      string             `json:"argv0"`    // the runtime's binary, as sys.orig_argv[0]
	CPU        int                `json:"cpu"`      // the slot's CPU
}

// warmSetup is the zygote's setup for runs under the policy p.
func (sl *Slot) warmSetup(p policy) zygoteSetup {
	const status, listener = 3, 4
	z := zygoteSetup{ListenerFD: listener, Pid1: pid1Steps(programUID), Detach: detachSteps(), Runner: stepRunner(),
		Filter: filterBase64(sl.s.filter), Landlock: sl.s.landlock, Argv0: sl.rt.Binary, CPU: sl.cpu,
		Syscalls: map[string]uintptr{"clone": unix.SYS_CLONE, "landlock_create_ruleset": unix.SYS_LANDLOCK_CREATE_RULESET,
			"landlock_add_rule": unix.SYS_LANDLOCK_ADD_RULE, "unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
			// hugify's
			"process_vm_readv": unix.SYS_PROCESS_VM_READV, "mprotect": unix.SYS_MPROTECT, "mremap": unix.SYS_MREMAP,
			"rt_sigprocmask": unix.SYS_RT_SIGPROCMASK}}
	z.Program = procSteps("/proc", sl.s.masks)
	z.ProcEnd = len(z.Program)
	z.Program = append(append(z.Program, p.join()...), call("setsid", unix.SYS_SETSID))
	z.CopyAt = len(z.Program)
	z.Program = append(z.Program, p.confine()...)
	for fd := range status + 1 {
		z.Program = append(z.Program, call("dup", unix.SYS_DUP3, ref(refStdio, fd), num(uint64(fd)), num(0)))
	}
	z.Program = append(z.Program,
		call("chdir "+workDir, unix.SYS_CHDIR, str(workDir)),
		call("close descriptors", unix.SYS_CLOSE_RANGE, num(status+1), num(1<<32-1), num(0)),
		filter(),
		call("hand over the seccomp listener", unix.SYS_SENDMSG, num(status), ref(refListenerMsg, 0), num(0)),
		call("close the seccomp listener", unix.SYS_CLOSE, num(listener)),
	)
	return z
}

// detachSteps detach the last run's scratch space and /proc (at first,
// the slot's) once its processes are all gone. The zygote skips a detach
// that fails (nothing mounted there). (Its network namespace is fresh
// where the last run made a socket: warmJob.FreshNet.)
func detachSteps() []step {
	var steps []step
	for _, d := range append(scratchDirs, struct{ path, mode string }{"/proc", ""}) {
		steps = append(steps, call("detach "+d.path, unix.SYS_UMOUNT2, str(d.path), num(unix.MNT_DETACH)))
	}
	return steps
}

// launchWarm hands the run to the slot's zygote.
func (r *run) launchWarm(p *pipes) (*launched, error) {
	z := r.slot.z
	join, err := r.cg.JoinFiles()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	job := warmJob{UID: programUID, Scratch: scratchSteps("", r.lim.MemoryMB<<20, r.s.cfg.ScratchInodes, programUID),
		Unbuffered: r.spec.Unbuffered, FreshNet: r.slot.netUsed}
	for _, l := range rlimits(r.lim) {
		job.Rlimits = append(job.Rlimits, l.Value)
	}
	msg, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	code, err := sealedFile(r.spec.Code)
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
	r.slot.netUsed = false // the zygote moves into a fresh one now
	p.closeChildEnds()
	msgs := make(chan initMsg, 4)
	go readStatus(p.statusR, msgs, &r.net)
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
