//go:build linux

package sandbox_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/onpyrunner/onpyrunner"
)

// TestLimitBoundaries runs each limit just under and just over its boundary.
func TestLimitBoundaries(t *testing.T) { limitBoundaries(t, cold) }

func limitBoundaries(t *testing.T, m mode) {
	sandboxFor(t)
	spin := "import time\nt = time.process_time()\nwhile time.process_time() - t < %s:\n pass\nprint('done')"
	threads := "import threading, time\nev = threading.Event()\nts = [threading.Thread(target=ev.wait) for _ in range(%d)]\ntry:\n for t in ts:\n  t.start()\n print('started all')\nfinally:\n ev.set()"
	cases := []struct {
		name    string
		limits  onpyrunner.Limits
		code    string
		verdict onpyrunner.Verdict
		check   func(t *testing.T, r *onpyrunner.Result)
	}{
		// CPU limits get a wall limit far above them: on a loaded machine a
		// spin takes longer than its CPU time.
		{"cpu under", onpyrunner.Limits{TimeMs: 1000, WallTimeMs: 30000}, fmt.Sprintf(spin, "0.6"), onpyrunner.OK, nil},
		{"cpu over", onpyrunner.Limits{TimeMs: 1000, WallTimeMs: 30000}, fmt.Sprintf(spin, "5"), onpyrunner.TimeLimit, cpuBetween(1000, 1500)},
		{"wall under", onpyrunner.Limits{WallTimeMs: 1000}, "import time\ntime.sleep(0.5)\nprint('done')", onpyrunner.OK, nil},
		{"wall over", onpyrunner.Limits{WallTimeMs: 1000}, "import time\ntime.sleep(3)", onpyrunner.WallTimeLimit, wallBetween(1000, 1500)},
		{"memory under", onpyrunner.Limits{MemoryMB: m.memoryMB(64)}, fmt.Sprintf("b = bytearray(%d << 20)\nprint('done')", m.allocMB(40)), onpyrunner.OK, nil},
		{"memory over", onpyrunner.Limits{MemoryMB: m.memoryMB(64)}, fmt.Sprintf("b = bytearray(%d << 20)\nprint('done')", m.allocMB(80)), onpyrunner.MemoryLimit, nil},
		// A child that the OOM killer ends, under a parent that goes on and
		// exits 0: the run reached its memory limit all the same.
		{"memory over in a child", onpyrunner.Limits{MemoryMB: m.memoryMB(64)}, fmt.Sprintf("import subprocess, sys\nr = subprocess.run([sys.executable, '-c', 'b = bytearray(%d << 20)'])\nprint('child', r.returncode)", m.allocMB(80)), onpyrunner.MemoryLimit, has("child -9")},
		// the main thread is one task: 7 more reach a limit of 8
		{"processes at limit", onpyrunner.Limits{Processes: 8}, fmt.Sprintf(threads, 7), onpyrunner.OK, has("started all")},
		{"processes over", onpyrunner.Limits{Processes: 8}, fmt.Sprintf(threads, 8), onpyrunner.RuntimeError, has("can't start new thread")},
		{"stdout at cap", onpyrunner.Limits{OutputKB: 4}, "import sys\nsys.stdout.write('x' * 4096)", onpyrunner.OK, outLen(4096, false)},
		{"stdout over", onpyrunner.Limits{OutputKB: 4}, "import sys\nsys.stdout.write('x' * 4097)", onpyrunner.OutputLimit, outLen(4096, true)},
		{"stderr at cap", onpyrunner.Limits{StderrKB: 4}, "import sys\nsys.stderr.write('x' * 4096)", onpyrunner.OK, errLen(4096, false)},
		{"stderr over", onpyrunner.Limits{StderrKB: 4}, "import sys\nsys.stderr.write('x' * 5000)", onpyrunner.OutputLimit, errLen(4096, true)},
		{"file size at limit", onpyrunner.Limits{FileSizeKB: 64}, "f = open('f', 'wb', buffering=0)\nf.write(b'x' * 65536)\nprint('done')", onpyrunner.OK, nil},
		{"file size over", onpyrunner.Limits{FileSizeKB: 64}, "f = open('f', 'wb', buffering=0)\nf.write(b'x' * 65536)\nf.write(b'x')", onpyrunner.RuntimeError, has("File too large")},
		{"open files under", onpyrunner.Limits{OpenFiles: 32}, "fs = [open('/dev/null') for _ in range(24)]\nprint('done')", onpyrunner.OK, nil},
		{"open files over", onpyrunner.Limits{OpenFiles: 32}, "fs = [open('/dev/null') for _ in range(32)]", onpyrunner.RuntimeError, has("Too many open files")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := m.run(t, c.code, c.limits, nil)
			if res.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s: %s", res.Verdict, c.verdict, show(res))
			}
			if c.verdict == onpyrunner.OK && !strings.Contains(res.Stdout, "done") && c.check == nil {
				t.Errorf("stdout %q", res.Stdout)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func outLen(n int, truncated bool) check {
	return func(t *testing.T, r *onpyrunner.Result) {
		if len(r.Stdout) != n || r.StdoutTruncated != truncated {
			t.Errorf("stdout %d bytes truncated=%v, want %d %v", len(r.Stdout), r.StdoutTruncated, n, truncated)
		}
	}
}

func errLen(n int, truncated bool) check {
	return func(t *testing.T, r *onpyrunner.Result) {
		if len(r.Stderr) != n || r.StderrTruncated != truncated {
			t.Errorf("stderr %d bytes truncated=%v, want %d %v", len(r.Stderr), r.StderrTruncated, n, truncated)
		}
	}
}

// TestConcurrentRuns runs 8 programs at once, hostile and ordinary mixed:
// each gets its own right answer.
func TestConcurrentRuns(t *testing.T) { concurrentRuns(t, cold) }

func concurrentRuns(t *testing.T, m mode) {
	sandboxFor(t)
	// A wall limit far above the CPU limit: the spinning jobs, starved by
	// the others on a loaded machine, still end on their CPU time.
	l := onpyrunner.Limits{TimeMs: 1000, WallTimeMs: 30000, MemoryMB: 64, OutputKB: 16, Processes: 16}
	type job struct {
		code, stdin string
		verdict     onpyrunner.Verdict
		stdout      string
	}
	jobs := []job{
		{"import os\nwhile True:\n try:\n  os.fork()\n except OSError:\n  pass", "", "", ""},
		{"while True:\n pass", "", onpyrunner.TimeLimit, ""},
		{"a = []\nwhile True:\n a.append(bytearray(1 << 20))", "", onpyrunner.MemoryLimit, ""},
		{"while True:\n print('y' * 1000)", "", onpyrunner.OutputLimit, ""},
		{"import ctypes\nlibc = ctypes.CDLL(None)\nn = 0\nwhile libc.inotify_init() >= 0:\n n += 1\nprint(n > 0)", "", onpyrunner.OK, "True\n"},
	}
	for i := 0; i < 3; i++ {
		jobs = append(jobs, job{fmt.Sprintf("x = int(input())\nprint(x * %d)", i+2), "21\n", onpyrunner.OK, fmt.Sprintf("%d\n", 21*(i+2))})
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.try(j.code, l, []byte(j.stdin))
			switch {
			case err != nil:
				t.Errorf("job %d: %v", i, err)
			case j.verdict == "" && res.Verdict == onpyrunner.OK: // fork bomb: any limit verdict
				t.Errorf("job %d: fork bomb ended ok", i)
			case j.verdict != "" && res.Verdict != j.verdict:
				t.Errorf("job %d: verdict %s, want %s: %s", i, res.Verdict, j.verdict, show(res))
			case j.stdout != "" && res.Stdout != j.stdout:
				t.Errorf("job %d: stdout %q, want %q", i, res.Stdout, j.stdout)
			}
		}()
	}
	wg.Wait()
	checkAfterRun(t, m, snapshot())
}
