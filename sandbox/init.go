//go:build linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// init turns this binary into the sandbox's init when it was re-executed
// for that (see initArg0); package init functions run on the main thread,
// which matters for the per-thread parent-death signal.
func init() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	err := sandboxInit()
	report(initMsg{Error: err.Error()})
	os.Exit(1)
}

func report(m initMsg) {
	b, _ := json.Marshal(m)
	_, _ = syscall.Write(fdStatus, append(b, '\n'))
}

// listenerMsg is the status message that hands over the seccomp listener.
var listenerMsg = []byte(`{"listener":true}` + "\n")

// sandboxInit runs as pid 1 of the run's fresh namespaces, in the run's
// init cgroup, with every capability of its own user namespace. It returns
// only on failure.
func sandboxInit() error {
	// Nothing but stdio reaches the program, whatever the service itself
	// inherited without close-on-exec.
	if err := unix.CloseRange(fdConfig, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	var c initConfig
	b, err := io.ReadAll(os.NewFile(fdConfig, "config"))
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	_ = syscall.Close(fdConfig)
	if err := buildRoot(&c); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte("sandbox")); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	if c.ZygoteFD != 0 {
		return slotInit(&c)
	}
	if err := confineInit(&c); err != nil {
		return err
	}
	pid, err := syscall.ForkExec(c.Argv[0], c.Argv, &syscall.ProcAttr{
		Dir:   workDir,
		Env:   c.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	for fd := 0; fd < 3; fd++ {
		_ = syscall.Close(fd)
	}
	// Back out of the program's cgroup, then its exact task limit: from now
	// on its counters are the program's alone.
	if err := writeFDs(fdCgroup+c.ProgProcs, c.InitProcs, "0"); err != nil {
		return err
	}
	if err := writeFDs(c.pidsMaxFD(), 1, strconv.FormatInt(c.Pids, 10)); err != nil {
		return err
	}
	report(initMsg{Started: true})
	return reap(pid)
}

// slotInit starts a warm slot's zygote with the init's privileges (it
// drops them in each child it forks for a run) and lives as long as it.
func slotInit(c *initConfig) error {
	pid, err := syscall.ForkExec(c.Argv[0], c.Argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   c.Env,
		Files: []uintptr{0, 1, 2, uintptr(c.ZygoteFD)},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start the zygote: %w", err)
	}
	_ = syscall.Close(c.ZygoteFD)
	report(initMsg{Started: true})
	return reap(pid)
}

// reap waits for children until pid ends, then reports its end and exits.
func reap(pid int) error {
	for {
		// A raw wait4 keeps the Go scheduler out of the way: no thread is
		// started while the program runs. Orphans are reparented here and
		// reaped; the program's own end ends the run, and with it the pid
		// namespace and every process left in it.
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		got, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), 0, uintptr(unsafe.Pointer(&ru)), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("wait4: %w", e)
		}
		if int(got) == pid {
			report(initMsg{Exited: true, Status: int(ws), MaxRSS: ru.Maxrss})
			os.Exit(0)
		}
	}
}

// writeFDs writes s to n descriptors from first on, and closes them.
func writeFDs(first, n int, s string) error {
	for fd := first; fd < first+n; fd++ {
		if _, err := syscall.Write(fd, []byte(s)); err != nil {
			return fmt.Errorf("write cgroup file: %w", err)
		}
		_ = syscall.Close(fd)
	}
	return nil
}
