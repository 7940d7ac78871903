//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
	"golang.org/x/sys/unix"
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
	acct accounting
	// measured, when set, receives the run's raw counts (a footprint's
	// measure).
	measured *footprint

	stdout, stderr *capped
	limitHit       chan onpyrunner.Verdict // an output cap was passed
	oom            <-chan struct{}         // the program reached its memory limit (cgroup v1)
	net            netUse                  // whether it made a socket (warm: the next run needs a fresh network namespace)
}

// env is the program's whole environment: nothing of the host's.
func (r *run) env() []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + workDir,
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"PYTHONIOENCODING=utf-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"USER=sandbox",
		"LOGNAME=sandbox",
	}
	if r.spec.Unbuffered {
		env = append(env, "PYTHONUNBUFFERED=1")
	}
	return env
}

// config is a fresh run's init's: the policy's steps, and their values.
func (r *run) config() initConfig {
	l, root := r.lim, r.s.rootPath()
	rl := rlimits(l)
	p := r.s.policy(len(r.cg.MoveFiles(cgroup.Prog)), rl)
	return initConfig{
		UID:      programUID,
		RootDir:  root,
		View:     r.rt.view,
		Argv:     []string{r.rt.Binary, mainFile},
		Env:      r.env(),
		Code:     r.spec.Code,
		Proc:     procSteps(root+"/proc", r.s.masks),
		Scratch:  scratchSteps(root, l.MemoryMB<<20, r.s.cfg.ScratchInodes, programUID),
		Confine:  append(append(p.join(), p.confine()...), filter()),
		Rlimits:  rl,
		Landlock: r.s.landlock,
		Filter:   r.s.filter,
		Pids:     l.Processes,
	}
}

// rlimits are a run's resource limits, the same resources in the same
// order for every run.
func rlimits(l onpyrunner.Limits) []rlimit {
	cpuSeconds := uint64((l.TimeMs+999)/1000) + 1
	return []rlimit{
		{syscall.RLIMIT_CPU, cpuSeconds},
		{syscall.RLIMIT_FSIZE, uint64(l.FileSizeKB) << 10},
		{syscall.RLIMIT_NOFILE, uint64(l.OpenFiles)},
		// The main thread's stack may grow as far as the memory limit
		// lets it (deep recursion works as with a judge's large stack).
		// Unlimited, not the memory limit: glibc gives each new thread a
		// stack of the limit's size, and 16 threads of a 2 GiB limit made
		// a fork fail with ENOMEM; unlimited, threads get its default 8 MiB.
		{syscall.RLIMIT_STACK, unix.RLIM_INFINITY},
		{syscall.RLIMIT_CORE, 0},
		{rlimitNPROC, uint64(l.Processes) + 64}, // the pids cgroup is the exact fence
		{rlimitMEMLOCK, 0},
		{rlimitRTPRIO, 0},
		{rlimitNICE, 0},
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
// the status channel.
func (p *pipes) openStdio(uid int) (err error) {
	for _, pr := range []struct {
		ours, theirs **os.File
		theyRead     bool
	}{{&p.stdinW, &p.stdinR, true}, {&p.stdoutR, &p.stdoutW, false}, {&p.stderrR, &p.stderrW, false}} {
		if *pr.ours, *pr.theirs, err = pipe(pr.theyRead); err != nil {
			return err
		}
	}
	if p.statusR, p.statusW, err = statusPair(); err != nil {
		return err
	}
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW} {
		if err := f.Chown(uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// pipe makes a pipe whose end ours the supervisor uses through Go's poller
// and whose end theirs, which it only hands on, stays blocking, as the
// program expects its stdio, and out of the poller.
func pipe(theyRead bool) (ours, theirs *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	o, t := fds[0], fds[1]
	if theyRead {
		o, t = t, o
	}
	if err := unix.SetNonblock(o, true); err != nil {
		unix.Close(o)
		unix.Close(t)
		return nil, nil, err
	}
	return os.NewFile(uintptr(o), "pipe"), os.NewFile(uintptr(t), "pipe"), nil
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
	maxRSS int64 // its peak resident set size in bytes (see initMsg.MaxRSS)
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
	oom, unwatch, err := r.cg.WatchOOM()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer unwatch()
	r.oom = oom
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
	out := &pair{out: r.stdout, err: r.stderr}
	streams.Go(func() { out.drain(p.stdoutR, p.stderrR) })
	if r.spec.Stdin != nil {
		// Not waited for: a live stdin (an attached client's) may block
		// past the run's end; the feeder ends when its source does, or at
		// its next write, on the pipe closed then.
		go feed(p.stdinW, r.spec.Stdin)
	} else {
		p.stdinW.Close() // at once: the program reads an empty input
	}

	start, err := r.awaitStart(ctx, msgs)
	if err != nil {
		return nil, err
	}
	reason, ex, wall := r.supervise(ctx, msgs, start)
	if !ex.seen && r.softStop(reason) {
		ex = r.awaitExit(msgs, stopGrace)
	}
	l.stop()
	stopped = true
	p.stdinW.Close() // ends the feeder if the program left stdin unread
	if !waitTimeout(&streams, 5*time.Second) {
		p.stdoutR.Close() // nothing should hold the pipes now; never hang on them
		p.stderrR.Close()
		streams.Wait()
	}
	if reason == "" && (r.stdout.truncated || r.stderr.truncated) {
		// The program passed a cap and ended before the supervisor could
		// stop it: the same verdict as if it had been quick enough.
		reason, ex = string(onpyrunner.OutputLimit), exit{}
	}
	stats, err := r.cg.Stats()
	if err != nil {
		return nil, fmt.Errorf("sandbox: read cgroup: %w", err)
	}
	if reason == "canceled" {
		// What it wrote until then, and how it ended, for the canceled
		// job to keep.
		return r.result("", ex, stats, wall), ctx.Err()
	}
	return r.result(onpyrunner.Verdict(reason), ex, stats, wall), nil
}

// oomRelief is the memory a program stopped at its memory limit gets
// beyond it for its stopGrace (within the run's slack: cgroup.slackMemory).
const oomRelief = 32 << 20

// stopGrace is how long a program stopped by a time limit or a cancel has,
// after SIGINT, to end on its own before it is killed.
const stopGrace = 250 * time.Millisecond

// softStop interrupts a program that the supervisor is about to stop, when
// it could still lose output or a cleanup by a kill: on a cancel (its
// finally blocks and except KeyboardInterrupt run, as after a Ctrl-C), and
// on a time or memory limit of a buffered run (Python flushes stdout as it
// exits, so what it printed before the limit is not lost with its buffer). It says
// whether it sent the signal.
func (r *run) softStop(reason string) bool {
	switch onpyrunner.Verdict(reason) {
	case "canceled":
	case onpyrunner.TimeLimit, onpyrunner.WallTimeLimit:
		if r.spec.Unbuffered {
			return false // every byte is through already
		}
	case onpyrunner.MemoryLimit:
		// Paused at its limit (cgroup v1): room to unwind in, which the
		// kill ends a moment later, whatever it does with it.
		if r.spec.Unbuffered || r.cg.Relieve(oomRelief) != nil {
			return false
		}
	default:
		return false
	}
	n, err := r.cg.Signal(unix.SIGINT)
	return err == nil && n > 0
}

// exitOf is the program's end as the init's message m says it.
func exitOf(m initMsg) exit {
	return exit{seen: true, status: syscall.WaitStatus(m.Status), maxRSS: m.MaxRSS << 10}
}

// awaitExit waits up to d for the init to report the program's end.
func (r *run) awaitExit(msgs <-chan initMsg, d time.Duration) exit {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return exit{}
			}
			if m.Exited {
				return exitOf(m)
			}
		case <-timer.C:
			return exit{}
		}
	}
}

// awaitStart waits for the init to start the program.
// A cancel during the set-up waits a moment more for the start, which may
// be on its way (the program's first output can come before it): the
// program that started is then stopped as any other, its output kept.
func (r *run) awaitStart(ctx context.Context, msgs <-chan initMsg) (time.Time, error) {
	timer := time.NewTimer(setupTimeout)
	defer timer.Stop()
	done := ctx.Done()
	for {
		select {
		case <-done:
			done = nil
			timer.Reset(100 * time.Millisecond)
			continue
		case m, ok := <-msgs:
			return r.started(m, ok)
		case <-timer.C:
			if done == nil {
				return time.Time{}, ctx.Err()
			}
			return time.Time{}, errors.New("sandbox: init did not start the program in time")
		}
	}
}

// started reads the init's first message.
func (r *run) started(m initMsg, ok bool) (time.Time, error) {
	switch {
	case !ok:
		return time.Time{}, errors.New("sandbox: init died while setting up")
	case m.Error != "":
		return time.Time{}, fmt.Errorf("sandbox: %s", m.Error)
	case m.Started:
		return time.Now(), nil
	}
	return time.Time{}, fmt.Errorf("sandbox: unexpected message from init: %+v", m)
}

// supervise waits for the program's end or a limit, whichever comes first.
// It returns the limit's verdict ("" for none, "canceled" for ctx), the
// program's exit as the init saw it and the wall time.
func (r *run) supervise(ctx context.Context, msgs <-chan initMsg, start time.Time) (string, exit, time.Duration) {
	wall := time.NewTimer(r.lim.WallTime())
	defer wall.Stop()
	cpu := time.NewTimer(r.cpuPoll(r.lim.CPUTime()))
	defer cpu.Stop()
	for {
		select {
		case m, ok := <-msgs:
			if !ok { // the init died: only the program can have made it
				return "", exit{}, time.Since(start)
			}
			if m.Exited {
				return "", exitOf(m), time.Since(start)
			}
		case v := <-r.limitHit:
			return string(v), exit{}, time.Since(start)
		case <-r.oom:
			// A program alone is stopped here, to flush first; one with
			// children goes back to the OOM killer, which picks its victim
			// as on a machine of its own (a child killed, its parent on).
			if alone, err := r.cg.Alone(); err == nil && alone {
				return string(onpyrunner.MemoryLimit), exit{}, time.Since(start)
			}
			if err := r.cg.ResumeOOMKiller(); err != nil {
				return string(onpyrunner.MemoryLimit), exit{}, time.Since(start)
			}
			r.oom = nil
		case <-wall.C:
			return string(onpyrunner.WallTimeLimit), exit{}, time.Since(start)
		case <-ctx.Done():
			return "canceled", exit{}, time.Since(start)
		case sig := <-r.spec.Signals:
			if _, err := r.cg.Signal(sig); err != nil {
				r.s.cfg.Logger.Warn("sandbox: signal a run", "signal", sig, "err", err)
			}
		case <-cpu.C:
			used, err := r.cg.CPU()
			left := r.lim.CPUTime() - used
			if err == nil && left <= 0 {
				return string(onpyrunner.TimeLimit), exit{}, time.Since(start)
			}
			cpu.Reset(r.cpuPoll(left))
		}
	}
}

// cpuPoll is when to look at the CPU time again, with left of it left:
// usage grows at most CPUs times as fast as the clock.
func (r *run) cpuPoll(left time.Duration) time.Duration {
	next := time.Duration(float64(left) / r.s.cfg.CPUs)
	return min(max(next, 2*time.Millisecond), 100*time.Millisecond)
}

func feed(w *os.File, in io.Reader) {
	defer w.Close()
	_, _ = io.Copy(w, in)
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
