//go:build linux

package sandbox_test

import (
	"context"
	"strings"
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

// TestZygoteHugePages: a PyPy zygote maps what it holds whole (its
// read-only data, 16 MiB, at least) in huge pages, and its runs work on
// them: the data and code it moved into them are what they were (a run
// imports, computes, and fails as it should). It logs each runtime's
// idle zygote's resident memory.
func TestZygoteHugePages(t *testing.T) {
	sandboxFor(t)
	if rooted == nil {
		t.Skip("no runtime built")
	}
	for _, rt := range rooted.Runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			sl, err := rooted.NewSlot(rt.Name)
			if err != nil {
				t.Fatal(err)
			}
			defer sl.Close()
			code := "import json, decimal\nprint(json.dumps(sum(decimal.Decimal(i) / 7 for i in range(2000)) > 0))\n1 / 0"
			for range 3 {
				res, err := sl.Run(context.Background(), sandbox.Spec{Runtime: rt.Name, Code: []byte(code)})
				if err != nil || res.Stdout != "true\n" || res.ExitCode != 1 || !strings.Contains(res.Stderr, "ZeroDivisionError") {
					t.Fatalf("%+v %v", res, err)
				}
			}
			rss, huge, err := sandbox.ZygoteMemory(sl)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: idle zygote VmRSS %d KiB, %d KiB of it in huge pages", rt.Name, rss, huge)
			if huge > rss || (rt.Language == "pypy" && huge < 16<<10) {
				t.Errorf("%d KiB in huge pages of %d KiB", huge, rss)
			}
		})
	}
}
