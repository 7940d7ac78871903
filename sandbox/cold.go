//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
)

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
	go readStatus(p.statusR, msgs, nil) // nil: its network namespace goes with it
	// The init reads its config as it starts; EPIPE means it died.
	go func() {
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
