package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
)

// setupTimeout bounds the init's work before the program starts.
const setupTimeout = 20 * time.Second

// run is one program's run, from the supervisor's side.
type run struct {
	s    *Sandbox
	rt   *Runtime
	spec Spec
	lim  onpyrunner.Limits
	uid  int
	cg   *cgroup.Run
	slot *Slot // the warm slot that runs it; nil for a fresh init

	stdout, stderr *capped
	limitHit       chan onpyrunner.Verdict // an output cap was passed
}

func landlockAvailable() bool {
	v, err := llsys.LandlockGetABIVersion()
	return err == nil && v >= 1
}

// env is the program's whole environment: nothing of the host's.
func (r *run) env() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + workDir,
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"PYTHONIOENCODING=utf-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"USER=sandbox",
		"LOGNAME=sandbox",
	}
}

func (r *run) config() initConfig {
	l := r.lim
	cpuSeconds := uint64((l.TimeMs+999)/1000) + 1
	return initConfig{
		UID:           programUID,
		RootDir:       r.s.rootPath(),
		View:          r.rt.view,
		Argv:          []string{r.rt.Binary, mainFile},
		Env:           r.env(),
		Code:          r.spec.Code,
		ScratchBytes:  l.MemoryMB << 20,
		ScratchInodes: r.s.cfg.ScratchInodes,
		Rlimits: []rlimit{
			{syscall.RLIMIT_CPU, cpuSeconds},
			{syscall.RLIMIT_FSIZE, uint64(l.FileSizeKB) << 10},
			{syscall.RLIMIT_NOFILE, uint64(l.OpenFiles)},
			{syscall.RLIMIT_STACK, uint64(l.MemoryMB) << 20},
			{syscall.RLIMIT_CORE, 0},
			{rlimitNPROC, uint64(l.Processes) + 64}, // the pids cgroup is the exact fence
			{rlimitMEMLOCK, 0},
			{rlimitRTPRIO, 0},
			{rlimitNICE, 0},
		},
		Pids:     l.Processes,
		Landlock: r.s.landlock,
		Filter:   r.s.filter,
	}
}

// Resources missing from package syscall.
const (
	rlimitNPROC   = 6
	rlimitMEMLOCK = 8
	rlimitNICE    = 13
	rlimitRTPRIO  = 14
)

// pipes are the run's descriptors; the child's ends are closed once it has
// them.
type pipes struct {
	stdinR, stdinW, stdoutR, stdoutW, stderrR, stderrW, cfgR, cfgW, statusR, statusW *os.File
	cgroupFiles                                                                      []*os.File
}

// openStdio makes the program's stdio pipes (owned by uid, so that it may
// reopen them through /dev/stdout and the like, as it could outside) and
// the status pipe.
func (p *pipes) openStdio(uid int) (err error) {
	for _, pr := range []struct{ r, w **os.File }{{&p.stdinR, &p.stdinW}, {&p.stdoutR, &p.stdoutW},
		{&p.stderrR, &p.stderrW}, {&p.statusR, &p.statusW}} {
		if *pr.r, *pr.w, err = os.Pipe(); err != nil {
			return err
		}
	}
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW} {
		if err := f.Chown(uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// openFiles opens cgroup files for the child.
func (p *pipes) openFiles(names ...string) error {
	for _, name := range names {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		p.cgroupFiles = append(p.cgroupFiles, f)
	}
	return nil
}

func (p *pipes) closeChildEnds() {
	for _, f := range append([]*os.File{p.stdinR, p.stdoutW, p.stderrW, p.cfgR, p.statusW}, p.cgroupFiles...) {
		if f != nil {
			f.Close()
		}
	}
}

func (p *pipes) closeAll() {
	p.closeChildEnds()
	for _, f := range []*os.File{p.stdinW, p.stdoutR, p.stderrR, p.cfgW, p.statusR} {
		if f != nil {
			f.Close()
		}
	}
}

// exit is how the program's main process ended, if the init saw it.
type exit struct {
	seen   bool
	status syscall.WaitStatus
}

// launched is a program started by a launcher: the init's (or the warm
// slot's) status messages, and stop, which kills what is left of the run
// and waits for it.
type launched struct {
	msgs <-chan initMsg
	stop func()
}

func (r *run) run(ctx context.Context) (*onpyrunner.Result, error) {
	var p pipes
	defer p.closeAll()
	if err := p.openStdio(r.uid); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	launch := r.launchCold
	if r.slot != nil {
		launch = r.launchWarm
	}
	l, err := launch(&p)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			l.stop()
		}
	}()
	msgs := l.msgs

	// Output readers and the stdin writer run from the start: the init
	// closes its copies once the program has them.
	r.limitHit = make(chan onpyrunner.Verdict, 2)
	r.stdout = newCapped(r.lim.OutputKB<<10, r.spec.Stdout, r.limitHit)
	r.stderr = newCapped(r.lim.StderrKB<<10, r.spec.Stderr, r.limitHit)
	var streams sync.WaitGroup
	streams.Add(3)
	go func() { defer streams.Done(); r.stdout.drain(p.stdoutR) }()
	go func() { defer streams.Done(); r.stderr.drain(p.stderrR) }()
	go func() { defer streams.Done(); feed(p.stdinW, r.spec.Stdin) }()

	start, err := r.awaitStart(ctx, msgs)
	if err != nil {
		return nil, err
	}
	reason, ex, wall := r.supervise(ctx, msgs, start)
	l.stop()
	stopped = true
	p.stdinW.Close() // unblocks the feeder if the program left stdin unread
	if !waitTimeout(&streams, 5*time.Second) {
		p.stdoutR.Close() // nothing should hold the pipes now; never hang on them
		p.stderrR.Close()
		streams.Wait()
	}
	if reason == "canceled" {
		return nil, ctx.Err()
	}
	stats, err := r.cg.Stats()
	if err != nil {
		return nil, fmt.Errorf("sandbox: read cgroup: %w", err)
	}
	res := r.result(onpyrunner.Verdict(reason), ex, stats, wall)
	return res, nil
}

// launchCold starts a fresh init in fresh namespaces, which builds the
// root, drops its privileges and starts the interpreter.
func (r *run) launchCold(p *pipes) (*launched, error) {
	cfg := r.config()
	var err error
	if p.cfgR, p.cfgW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	prog, init := r.cg.MoveFiles(cgroup.Prog), r.cg.MoveFiles(cgroup.Init)
	cfg.ProgProcs, cfg.InitProcs = len(prog), len(init)
	if err := p.openFiles(append(append(prog, init...), r.cg.PidsMaxFile())...); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	cmd := r.initCmd(p.stdinR, p.stdoutW, p.stderrW, append([]*os.File{p.cfgR, p.statusW}, p.cgroupFiles...))
	if err := r.start(cmd); err != nil {
		return nil, fmt.Errorf("sandbox: start init: %w", err)
	}
	p.closeChildEnds()
	msgs := make(chan initMsg, 4)
	go readStatus(p.statusR, msgs)
	go func() { // the init reads its config as it starts; EPIPE means it died
		b, _ := json.Marshal(cfg)
		_, _ = p.cfgW.Write(b)
		p.cfgW.Close()
	}()
	return &launched{msgs: msgs, stop: func() {
		_ = cmd.Process.Kill() // pid 1 gone: the kernel kills the rest of its pid namespace
		_ = cmd.Wait()
	}}, nil
}

// initCmd is the command that starts an init in fresh namespaces, with
// the given stdio and extra descriptors (3 on).
func (r *run) initCmd(stdin, stdout, stderr *os.File, extra []*os.File) *exec.Cmd {
	// Inside, uid 0 (the init while it sets up, with the namespace's
	// capabilities) is the host's unprivileged UIDBase; programUID is the
	// run's own host uid. Gids map the same way.
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: r.s.cfg.UIDBase, Size: 1},
		{ContainerID: programUID, HostID: r.uid, Size: 1}}
	return &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0},
		Env:        []string{"GOMAXPROCS=1", "GOGC=off"}, // short-lived and small: no collector beside the program
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
				syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
			UidMappings:                ids,
			GidMappings:                ids,
			GidMappingsEnableSetgroups: true,
			Credential:                 &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}},
			Pdeathsig:                  syscall.SIGKILL,
			Setsid:                     true,
		},
	}
}

// start starts the init in the run's init cgroup without moving a whole
// process (which costs an RCU grace period, milliseconds, per move): on v2
// it is born there (CLONE_INTO_CGROUP); on v1 this thread moves itself
// there, forks the init, and moves back.
func (r *run) start(cmd *exec.Cmd) error {
	if r.s.cgroups.Version() == 2 {
		dir, err := os.Open(r.cg.LeafDir(cgroup.Init))
		if err != nil {
			return err
		}
		defer dir.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(dir.Fd())
		return cmd.Start()
	}
	runtime.LockOSThread()
	if err := moveSelf(r.cg.MoveFiles(cgroup.Init)); err != nil {
		_ = moveSelf(r.s.cgroups.HomeFiles())
		runtime.UnlockOSThread()
		return err
	}
	err := cmd.Start()
	if moveSelf(r.s.cgroups.HomeFiles()) != nil {
		// Stuck in the run's cgroup: returning locked ends this thread.
		return errors.Join(err, errors.New("could not move back to the service's cgroup"))
	}
	runtime.UnlockOSThread()
	return err
}

// moveSelf moves the calling thread through each file (v1 tasks).
func moveSelf(files []string) error {
	for _, f := range files {
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			return err
		}
	}
	return nil
}

// awaitStart waits for the init to start the program.
func (r *run) awaitStart(ctx context.Context, msgs <-chan initMsg) (time.Time, error) {
	timer := time.NewTimer(setupTimeout)
	defer timer.Stop()
	select {
	case m, ok := <-msgs:
		switch {
		case !ok:
			return time.Time{}, errors.New("sandbox: init died while setting up")
		case m.Error != "":
			return time.Time{}, fmt.Errorf("sandbox: %s", m.Error)
		case m.Started:
			return time.Now(), nil
		}
		return time.Time{}, fmt.Errorf("sandbox: unexpected message from init: %+v", m)
	case <-timer.C:
		return time.Time{}, errors.New("sandbox: init did not start the program in time")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// supervise waits for the program's end or a limit, whichever comes first.
// It returns the limit's verdict ("" for none, "canceled" for ctx), the
// program's exit as the init saw it and the wall time.
func (r *run) supervise(ctx context.Context, msgs <-chan initMsg, start time.Time) (string, exit, time.Duration) {
	wall := time.NewTimer(r.lim.WallTime())
	defer wall.Stop()
	cpu := time.NewTimer(0)
	defer cpu.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok { // the init died: only the program can have made it
				return "", exit{}, time.Since(start)
			}
			if m.Exited {
				return "", exit{seen: true, status: syscall.WaitStatus(m.Status)}, time.Since(start)
			}
		case v := <-r.limitHit:
			return string(v), exit{}, time.Since(start)
		case <-wall.C:
			return string(onpyrunner.WallTimeLimit), exit{}, time.Since(start)
		case <-ctx.Done():
			return "canceled", exit{}, time.Since(start)
		case <-cpu.C:
			used, err := r.cg.CPU()
			left := r.lim.CPUTime() - used
			if err == nil && left <= 0 {
				return string(onpyrunner.TimeLimit), exit{}, time.Since(start)
			}
			// Usage grows at most CPUs times as fast as the clock.
			next := time.Duration(float64(left) / r.s.cfg.CPUs)
			cpu.Reset(min(max(next, 2*time.Millisecond), 100*time.Millisecond))
		}
	}
}

func readStatus(f *os.File, out chan<- initMsg) {
	defer close(out)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m initMsg
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out <- m
		}
	}
}

func feed(w *os.File, in io.Reader) {
	defer w.Close()
	if in != nil {
		_, _ = io.Copy(w, in)
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}
