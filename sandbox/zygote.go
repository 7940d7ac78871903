//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
	"golang.org/x/sys/unix"
)

// startZygote starts the slot's init in fresh namespaces, in cg's init
// leaf; the init builds the root and starts the zygote, which says when it
// is ready.
func (sl *Slot) startZygote(cg *cgroup.Run) (*zygote, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	_ = unix.SetNonblock(pair[0], true)
	ctl, theirs := os.NewFile(uintptr(pair[0]), "zygote"), os.NewFile(uintptr(pair[1]), "zygote")
	defer theirs.Close()
	var p pipes
	defer p.closeAll()
	if p.cfgR, p.cfgW, err = os.Pipe(); err == nil {
		p.statusR, p.statusW, err = statusPair()
	}
	logR, logW, err2 := os.Pipe()
	devnull, err3 := os.Open(os.DevNull)
	if err := errors.Join(err, err2, err3); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer devnull.Close()
	defer logW.Close()
	setup := sl.warmSetup(sl.s.policy(len(cg.MoveFiles(cgroup.Prog)), rlimits(onpyrunner.Limits{}.WithDefaults())))
	pid1, err := pid1Program(setup.Pid1)
	if sl.portable {
		setup.Runner, pid1 = nil, nil
	}
	if err != nil {
		ctl.Close()
		logR.Close()
		return nil, err
	}
	arg, err := json.Marshal(setup)
	if err != nil {
		ctl.Close()
		logR.Close()
		return nil, err
	}
	r := &run{s: sl.s, rt: sl.rt, uid: sl.uid, cg: cg}
	root := sl.s.rootPath()
	cfg := initConfig{UID: programUID, RootDir: root, View: sl.rt.view,
		Argv: []string{sl.rt.Binary, "-c", zygoteBoot, zygoteSource, string(arg)}, Env: r.env(),
		Proc: procSteps(root+"/proc", sl.s.masks), Scratch: scratchSteps(root, 1<<20, 64, programUID),
		ZygoteFD: fdCgroup, Pid1: pid1}
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
	go readStatus(statusR, msgs, nil)
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
