//go:build linux

package sandbox_test

import (
	"context"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// TestSlotReplacesDeadZygote: a slot whose zygote died runs the next
// program with a fresh one.
func TestSlotReplacesDeadZygote(t *testing.T) {
	sl, err := sandboxFor(t).NewSlot("python")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	for i := range 3 {
		if i == 1 {
			sandbox.KillSlot(sl)
		}
		res, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte("print(6 * 7)")})
		if err != nil || res.Stdout != "42\n" {
			t.Fatalf("run %d: %+v %v", i, res, err)
		}
	}
}

// TestSlotCountersPerRun: a slot keeps its program cgroup between runs, and
// each run's CPU time, peak memory and OOM kills are its own, under its own
// limits.
func TestSlotCountersPerRun(t *testing.T) {
	sl, err := sandboxFor(t).NewSlot("python")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	run := func(code string, l onpyrunner.Limits) *onpyrunner.Result {
		t.Helper()
		res, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte(code), Limits: l})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	heavy := "import time\nb = bytearray(60 << 20)\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint('done')"
	light := "print(1)"
	for i, step := range []struct {
		code    string
		lim     onpyrunner.Limits
		verdict onpyrunner.Verdict
		check   func(*onpyrunner.Result) bool
	}{
		{heavy, onpyrunner.Limits{MemoryMB: 128}, onpyrunner.OK, func(r *onpyrunner.Result) bool { return r.MemoryKB >= 60<<10 && r.TimeMs >= 300 }},
		{light, onpyrunner.Limits{MemoryMB: 128}, onpyrunner.OK, func(r *onpyrunner.Result) bool { return r.MemoryKB < 40<<10 && r.TimeMs < 200 }},
		// A lower limit than the last run's holds, and its OOM kill is
		// this run's alone.
		{heavy, onpyrunner.Limits{MemoryMB: 48}, onpyrunner.MemoryLimit, func(*onpyrunner.Result) bool { return true }},
		{light, onpyrunner.Limits{MemoryMB: 48}, onpyrunner.OK, func(r *onpyrunner.Result) bool { return r.MemoryKB < 40<<10 }},
		{heavy, onpyrunner.Limits{MemoryMB: 128}, onpyrunner.OK, func(r *onpyrunner.Result) bool { return r.MemoryKB >= 60<<10 }},
	} {
		res := run(step.code, step.lim)
		if res.Verdict != step.verdict || !step.check(res) {
			t.Errorf("run %d: verdict %s (want %s), %d KB, %d ms CPU, stderr %q", i, res.Verdict, step.verdict, res.MemoryKB, res.TimeMs, res.Stderr)
		}
	}
}
