package sandbox

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
	"golang.org/x/sys/unix"
)

//go:embed zygote.py
var zygoteSource string

// Slot is a warm sandbox that runs one program at a time: its namespaces,
// root and cgroup are set up once, and a zygote (an interpreter past its
// start-up, inside the slot) forks each program; see the package doc.
// Between runs nothing is left: every run has its own pid, mount and IPC
// namespaces, scratch space and cgroup. A Slot is safe for concurrent use;
// runs wait for each other.
type Slot struct {
	s   *Sandbox
	rt  *Runtime
	uid int // the host uid of this slot's programs

	filter   string   // the seccomp filter, for the zygote
	landlock *llRules // nil where the kernel has no Landlock

	mu   sync.Mutex // one run at a time
	z    *zygote
	runs int // runs by this zygote
}

// zygoteRuns is how many runs a zygote serves before a fresh one replaces
// it, with a fresh hash seed and layout.
const zygoteRuns = 1000

// zygote is a slot's running init and zygote.
type zygote struct {
	cmd  *exec.Cmd
	cg   *cgroup.Run
	ctl  *os.File      // the zygote's end: fd 3 in the zygote
	dead chan struct{} // closed when the init has ended
}

// WarmRuntimes are the runtimes that a Slot runs with a zygote; others
// start a fresh interpreter per run (PyPy's start-up and memory do not fit
// the fork-per-job model as well).
var WarmRuntimes = map[string]bool{"python": true}

// NewSlot starts a warm slot for runtime ("" is python).
func (s *Sandbox) NewSlot(runtime string) (*Slot, error) {
	if runtime == "" {
		runtime = "python"
	}
	rt, ok := s.runtimes[runtime]
	if !ok {
		return nil, fmt.Errorf("sandbox: %w: %q", ErrNoRuntime, runtime)
	}
	if !WarmRuntimes[runtime] {
		return nil, fmt.Errorf("sandbox: runtime %s runs cold only", runtime)
	}
	uid, ok := s.uids.acquire()
	if !ok {
		return nil, fmt.Errorf("sandbox: more than %d runs at once", s.cfg.MaxRuns)
	}
	sl := &Slot{s: s, rt: rt, uid: uid, filter: filterBase64(s.filter)}
	if s.landlock {
		sl.landlock = landlockRules()
	}
	if err := sl.restart(); err != nil {
		s.uids.release(uid)
		return nil, err
	}
	return sl, nil
}

// Run runs spec in the slot, as Sandbox.Run does; spec.Runtime must be the
// slot's (or empty). A zygote that died is replaced first.
func (sl *Slot) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	if spec.Runtime != "" && spec.Runtime != sl.rt.Name {
		return nil, fmt.Errorf("sandbox: a %s slot cannot run %s", sl.rt.Name, spec.Runtime)
	}
	lim := spec.Limits.WithDefaults()
	if err := validLimits(lim); err != nil {
		return nil, err
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.z == nil || sl.z.ended() || sl.runs >= zygoteRuns {
		if err := sl.restart(); err != nil {
			return nil, err
		}
	}
	sl.runs++
	// The program alone will be in it: no init leaf, the exact limits.
	cg, err := sl.s.cgroups.NewProgRun(newID(), cgroup.Limits{
		MemoryBytes: lim.MemoryMB << 20, Pids: lim.Processes, CPUs: sl.s.cfg.CPUs})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		if err := cg.Remove(10 * time.Second); err != nil {
			sl.s.cfg.Logger.Error("sandbox: cgroup left behind", "err", err)
		}
	}()
	r := &run{s: sl.s, rt: sl.rt, spec: spec, lim: lim, uid: sl.uid, cg: cg, slot: sl}
	return r.run(ctx)
}

// Close stops the slot.
func (sl *Slot) Close() error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.z != nil {
		sl.z.stop(sl.s)
		sl.z = nil
	}
	sl.s.uids.release(sl.uid)
	return nil
}

func (z *zygote) ended() bool {
	select {
	case <-z.dead:
		return true
	default:
		return false
	}
}

func (z *zygote) stop(s *Sandbox) {
	_ = z.cmd.Process.Kill()
	<-z.dead
	z.ctl.Close()
	if err := z.cg.Remove(10 * time.Second); err != nil {
		s.cfg.Logger.Error("sandbox: slot cgroup left behind", "err", err)
	}
}

// slotPrefix starts the name of a slot's own cgroup.
const slotPrefix = "slot-"

// slotLimits hold the slot's own processes: the init, the zygote, and the
// small per-run helpers it forks.
var slotLimits = onpyrunner.Limits{MemoryMB: 256, Processes: 64}

// restart (re)starts the slot's init and zygote.
func (sl *Slot) restart() error {
	if sl.z != nil {
		sl.z.stop(sl.s)
		sl.z = nil
	}
	cg, err := sl.s.cgroups.NewRun(slotPrefix+newID(), cgroup.Limits{
		MemoryBytes: slotLimits.MemoryMB << 20, Pids: slotLimits.Processes, CPUs: 0})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	z, err := sl.startZygote(cg)
	if err != nil {
		_ = cg.Remove(10 * time.Second)
		return err
	}
	sl.z, sl.runs = z, 0
	return nil
}

// startZygote starts the slot's init in fresh namespaces, in cg's init
// leaf; the init builds the root and starts the zygote, which says when it
// is ready.
func (sl *Slot) startZygote(cg *cgroup.Run) (*zygote, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	// Room for a job's message (its code) in one datagram.
	_ = unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	_ = unix.SetsockoptInt(pair[1], unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	_ = unix.SetNonblock(pair[0], true)
	ctl, theirs := os.NewFile(uintptr(pair[0]), "zygote"), os.NewFile(uintptr(pair[1]), "zygote")
	defer theirs.Close()
	var p pipes
	defer p.closeAll()
	if p.cfgR, p.cfgW, err = os.Pipe(); err == nil {
		p.statusR, p.statusW, err = os.Pipe()
	}
	logR, logW, err2 := os.Pipe()
	devnull, err3 := os.Open(os.DevNull)
	if err := errors.Join(err, err2, err3); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer devnull.Close()
	defer logW.Close()
	r := &run{s: sl.s, rt: sl.rt, uid: sl.uid, cg: cg}
	cfg := initConfig{UID: programUID, RootDir: sl.s.rootPath(), View: sl.rt.view,
		Argv: []string{sl.rt.Binary, "-c", zygoteSource}, Env: r.env(),
		ScratchBytes: 1 << 20, ScratchInodes: 64, ZygoteFD: fdCgroup, Pid1: pid1Program(programUID)}
	cmd := r.initCmd(devnull, devnull, logW, []*os.File{p.cfgR, p.statusW, theirs})
	if err := r.start(cmd); err != nil {
		ctl.Close()
		logR.Close()
		return nil, fmt.Errorf("sandbox: start slot init: %w", err)
	}
	p.closeChildEnds()
	b, _ := json.Marshal(cfg)
	_, _ = p.cfgW.Write(b)
	p.cfgW.Close()
	p.cfgW = nil
	z := &zygote{cmd: cmd, cg: cg, ctl: ctl, dead: make(chan struct{})}
	msgs := make(chan initMsg, 4)
	statusR := p.statusR
	p.statusR = nil // the watcher below owns it now
	go readStatus(statusR, msgs)
	go sl.logLines(logR)
	started := make(chan error, 1)
	go func() {
		defer close(z.dead)
		defer statusR.Close()
		for m := range msgs {
			switch {
			case m.Error != "":
				started <- errors.New("sandbox: slot: " + m.Error)
			case m.Started:
				started <- nil
			}
		}
		_ = cmd.Wait()
	}()
	if err := sl.awaitReady(z, started); err != nil {
		z.stop(sl.s)
		return nil, err
	}
	return z, nil
}

// awaitReady waits for the init to start the zygote and the zygote to say
// it is ready.
func (sl *Slot) awaitReady(z *zygote, started <-chan error) error {
	timer := time.NewTimer(setupTimeout)
	defer timer.Stop()
	select {
	case err := <-started:
		if err != nil {
			return err
		}
	case <-z.dead:
		return errors.New("sandbox: the slot's init died while setting up")
	case <-timer.C:
		return errors.New("sandbox: the slot's init did not start in time")
	}
	_ = z.ctl.SetReadDeadline(time.Now().Add(setupTimeout))
	buf := make([]byte, 256)
	n, err := z.ctl.Read(buf)
	if err != nil || string(buf[:n]) != `{"ready":true}` {
		return fmt.Errorf("sandbox: the zygote did not start: %q %v", buf[:n], err)
	}
	return z.ctl.SetReadDeadline(time.Time{})
}

// logLines logs what the slot's init and zygote write on stderr: nothing,
// unless they fail.
func (sl *Slot) logLines(f *os.File) {
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			sl.s.cfg.Logger.Warn("sandbox: slot", "runtime", sl.rt.Name, "stderr", string(buf[:n]))
		}
		if err != nil {
			return
		}
	}
}

// warmJob is what the zygote gets for one run (see zygote.py).
type warmJob struct {
	UID           int         `json:"uid"`
	Code          []byte      `json:"code"`
	ScratchBytes  int64       `json:"scratchBytes"`
	ScratchInodes int64       `json:"scratchInodes"`
	Rlimits       [][2]uint64 `json:"rlimits"`
	Landlock      *llRules    `json:"landlock"`
	Filter        string      `json:"filter"` // base64 of the struct sock_filter array
	Argv0         string      `json:"argv0"`
}

// launchWarm hands the run to the slot's zygote.
func (r *run) launchWarm(p *pipes) (*launched, error) {
	z := r.slot.z
	if err := p.openFiles(r.cg.ProcsFiles(cgroup.Prog)...); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	c := r.config()
	job := warmJob{UID: programUID, Code: c.Code, ScratchBytes: c.ScratchBytes, ScratchInodes: c.ScratchInodes,
		Filter: r.slot.filter, Landlock: r.slot.landlock, Argv0: r.rt.Binary}
	for _, rl := range c.Rlimits {
		job.Rlimits = append(job.Rlimits, [2]uint64{uint64(rl.Resource), rl.Value})
	}
	msg, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	fds := []int{int(p.stdinR.Fd()), int(p.stdoutW.Fd()), int(p.stderrW.Fd()), int(p.statusW.Fd())}
	for _, f := range p.cgroupFiles {
		fds = append(fds, int(f.Fd()))
	}
	if err := send(z.ctl, msg, unix.UnixRights(fds...)); err != nil {
		r.slot.z.stop(r.s) // a zygote that does not listen is replaced
		r.slot.z = nil
		return nil, fmt.Errorf("sandbox: hand the run to the zygote: %w", err)
	}
	p.closeChildEnds()
	msgs := make(chan initMsg, 4)
	go readStatus(p.statusR, msgs)
	return &launched{msgs: msgs, stop: func() {
		if err := r.cg.Kill(10 * time.Second); err != nil {
			r.s.cfg.Logger.Error("sandbox: kill a run", "err", err)
		}
		// The run's pid 1 ends once the program has: its end closes the
		// status pipe's last copy.
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

// Lane runs one program at a time for one worker: in a warm slot of its
// own when the runtime has one (made at its first run, replaced if it
// dies), else with a fresh interpreter.
type Lane struct {
	s     *Sandbox
	slots map[string]*Slot
}

// NewLane returns a lane; Close it when done.
func (s *Sandbox) NewLane() *Lane { return &Lane{s: s, slots: map[string]*Slot{}} }

// Run runs spec as Sandbox.Run does. Not safe for concurrent use.
func (l *Lane) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	name := spec.Runtime
	if name == "" {
		name = "python"
	}
	if _, ok := l.s.runtimes[name]; !ok || !WarmRuntimes[name] {
		return l.s.Run(ctx, spec)
	}
	sl, err := l.slot(name)
	if err != nil {
		return nil, err
	}
	return sl.Run(ctx, spec)
}

// Warm starts the lane's slots for the warm runtimes now rather than at
// their first run.
func (l *Lane) Warm() error {
	var errs []error
	for name := range l.s.runtimes {
		if WarmRuntimes[name] {
			_, err := l.slot(name)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Lane) slot(name string) (*Slot, error) {
	if sl := l.slots[name]; sl != nil {
		return sl, nil
	}
	sl, err := l.s.NewSlot(name)
	if err != nil {
		return nil, err
	}
	l.slots[name] = sl
	return sl, nil
}

// Close stops the lane's slots.
func (l *Lane) Close() error {
	for _, sl := range l.slots {
		sl.Close()
	}
	return nil
}
