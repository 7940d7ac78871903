//go:build linux

package sandbox

import (
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
	"golang.org/x/sys/unix"
)

// result turns what happened into the run's Result. killed is the limit
// the supervisor enforced, if any; the kernel's accounting decides the rest.
func (r *run) result(killed onpyrunner.Verdict, ex exit, st cgroup.Stats, wall time.Duration) *onpyrunner.Result {
	res := &onpyrunner.Result{
		Stdout: string(r.stdout.buf), Stderr: string(r.stderr.buf),
		StdoutTruncated: r.stdout.truncated, StderrTruncated: r.stderr.truncated,
		TimeMs: st.CPU.Milliseconds(), WallTimeMs: wall.Milliseconds(), MemoryKB: r.acct.peak(ex.maxRSS, st.MemoryPeak, r.lim.MemoryMB<<20) >> 10,
	}
	if r.measured != nil {
		*r.measured = footprint{rss: ex.maxRSS, charge: st.MemoryPeak}
	}
	// The main process's end: as the init saw it, or killed with the rest
	// of the run when the supervisor or the program ended it first.
	ws := ex.status
	if !ex.seen {
		ws = syscall.WaitStatus(syscall.SIGKILL)
	}
	switch {
	case ws.Exited():
		res.ExitCode = ws.ExitStatus()
	case ws.Signaled():
		res.ExitCode = 128 + int(ws.Signal())
		res.Signal = unix.SignalName(ws.Signal())
	}
	res.Verdict = verdict(killed, ws, st, r.lim)
	return res
}

// verdict applies the verdict table of docs/contracts.md. A limit the supervisor enforced comes
// first; then CPU time past the limit (RLIMIT_CPU may have killed first)
// and the OOM killer, from the kernel's counters, never from the
// program's output (an OOM kill of any process of the run, even a child
// whose parent went on and exited 0: the run reached its memory limit); a
// signal the program sent itself (SIGKILL included) is a runtime error.
func verdict(killed onpyrunner.Verdict, ws syscall.WaitStatus, st cgroup.Stats, l onpyrunner.Limits) onpyrunner.Verdict {
	failed := !ws.Exited() || ws.ExitStatus() != 0
	switch {
	case killed != "":
		return killed
	case st.CPU >= l.CPUTime():
		return onpyrunner.TimeLimit
	case st.OOMKills > 0:
		return onpyrunner.MemoryLimit
	case failed:
		return onpyrunner.RuntimeError
	}
	return onpyrunner.OK
}
