//go:build linux

package sandbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// laneSandbox is a sandbox on the runtimes of their own roots with the
// lanes' warm slots capped as cfg says.
func laneSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	sandboxFor(t)
	testenv.Require(t, rooted != nil, "no runtime built in "+testenv.RuntimesDir())
	cfg.RuntimesDir = testenv.RuntimesDir()
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// laneRun runs print(1) on runtime in l, warm where it has a slot:
// "python" is the host's, asked for by its version.
func laneRun(t *testing.T, l *sandbox.Lane, runtime string) {
	t.Helper()
	spec := sandbox.Spec{Code: []byte("print(1)"), Runtime: runtime}
	for _, rt := range rooted.Runtimes() {
		if runtime == "python" && rt.Name == "python" {
			spec.Version = rt.Version
		}
	}
	res, err := l.Run(context.Background(), spec)
	if err != nil || res.Stdout != "1\n" {
		t.Fatalf("%s: %v %+v", runtime, err, res)
	}
}

// TestLaneWarmCap: a lane keeps its default python's slot, starts another
// runtime's at its first run, and closes the one that served least
// recently when a runtime beyond its cap needs a slot.
func TestLaneWarmCap(t *testing.T) {
	l := laneSandbox(t, sandbox.Config{WarmRuntimes: 2, WarmIdle: time.Hour}).NewLane()
	defer l.Close()
	def := l.Warm()
	if len(def) != 1 {
		t.Fatalf("a new lane holds %v", def)
	}
	laneRun(t, l, "python") // the host's: warm, a second slot
	if got := sorted(l.Warm()); !slices.Equal(got, sorted(append([]string{"python"}, def...))) {
		t.Fatalf("after a run on the host's python: %v", got)
	}
	laneRun(t, l, "pypy3")
	if got := sorted(l.Warm()); !slices.Equal(got, sorted(append([]string{"pypy3"}, def...))) {
		t.Fatalf("after a run on pypy3, cap 2: %v", got)
	}
	laneRun(t, l, "python") // started again, in pypy3's place
	if got := sorted(l.Warm()); !slices.Equal(got, sorted(append([]string{"python"}, def...))) {
		t.Fatalf("after python again: %v", got)
	}
}

// TestLaneReady: a lane is ready for a runtime whose slot it holds, not for
// one it would start first (what a job's tests borrow: worker's lender).
func TestLaneReady(t *testing.T) {
	l := laneSandbox(t, sandbox.Config{WarmIdle: time.Hour}).NewLane()
	defer l.Close()
	pypy := sandbox.Spec{Runtime: "pypy3"}
	if !l.Ready(sandbox.Spec{}) {
		t.Error("a new lane is not ready for the default python")
	}
	if l.Ready(pypy) {
		t.Error("a new lane is ready for pypy3, which it has not started")
	}
	laneRun(t, l, "pypy3")
	if !l.Ready(pypy) {
		t.Error("a lane that ran pypy3 is not ready for it")
	}
}

// TestLaneWarmIdle: a slot that serves no run for WarmIdle closes; the
// default python's stays, and the runtime's next run starts a new one.
func TestLaneWarmIdle(t *testing.T) {
	l := laneSandbox(t, sandbox.Config{WarmIdle: 100 * time.Millisecond}).NewLane()
	defer l.Close()
	def := l.Warm()
	laneRun(t, l, "pypy3")
	for deadline := time.Now().Add(time.Minute); !slices.Equal(l.Warm(), def); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pypy3's slot still warm a minute on: %v", l.Warm())
		}
	}
	laneRun(t, l, "pypy3")
}

func sorted(s []string) []string { slices.Sort(s); return s }
