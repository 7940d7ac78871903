//go:build linux

package sandbox_test

import (
	"context"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// bare runs print(1) with the host's python3, no sandbox.
func bare(b *testing.B) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "print(1)").Output(); err != nil || string(out) != "1\n" {
		b.Fatalf("bare python3: %q %v", out, err)
	}
}

func sandboxed(b *testing.B, s *sandbox.Sandbox) {
	res, err := s.Run(context.Background(), sandbox.Spec{Code: []byte("print(1)")})
	if err != nil || res.Stdout != "1\n" {
		b.Fatalf("sandboxed: %+v %v", res, err)
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkPrint1 times print(1) through the sandbox and bare python3
// alternately in the same run and reports the median wall time of each and
// their ratio (the bar is <= 1.5).
func BenchmarkPrint1(b *testing.B) {
	s := sandboxFor(b)
	latency(b, "sandbox", func() { sandboxed(b, s) })
}

// latency times fn and bare python3 alternately, b.N times each, and
// reports the median wall time of each and their ratio.
func latency(b *testing.B, name string, fn func()) {
	var sb, py []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		fn()
		t1 := time.Now()
		bare(b)
		sb, py = append(sb, t1.Sub(t0)), append(py, time.Since(t1))
	}
	ms, mp := median(sb), median(py)
	b.ReportMetric(float64(ms.Microseconds())/1000, name+"-ms")
	b.ReportMetric(float64(mp.Microseconds())/1000, "bare-ms")
	b.ReportMetric(float64(ms)/float64(mp), "ratio")
}

// BenchmarkThroughput runs print(1) with GOMAXPROCS runs at a time
// (-cpu 2 gives 2; -cpu 1,2,4,8,16 shows how it scales), through the
// sandbox and bare python3 spawned the same way, and reports runs per
// second of each.
func BenchmarkThroughput(b *testing.B) {
	s := sandboxFor(b)
	throughput(b, "sandbox", func() { sandboxed(b, s) })
}

// throughput runs fn and bare python3 b.N times each, GOMAXPROCS at a
// time, in alternating batches (this host's speed drifts), and reports
// runs per second of each and their ratio.
func throughput(b *testing.B, name string, fn func()) { throughputOf(b, name, fn, func() { bare(b) }) }

// throughputOf is throughput against another bare run.
func throughputOf(b *testing.B, name string, fn, bareRun func()) {
	par := runtime.GOMAXPROCS(0)
	batch := 50 * par
	// timed runs n calls of fn, par at a time, and says how long they took.
	timed := func(fn func(), n int) time.Duration {
		var wg sync.WaitGroup
		jobs := make(chan struct{}, n)
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		start := time.Now()
		for range par {
			wg.Go(func() {
				for range jobs {
					fn()
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var st, bt time.Duration
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		st += timed(fn, n)
		bt += timed(bareRun, n)
	}
	sr, br := float64(b.N)/st.Seconds(), float64(b.N)/bt.Seconds()
	b.ReportMetric(sr, name+"-runs/s")
	b.ReportMetric(br, "bare-runs/s")
	b.ReportMetric(sr/br, "ratio")
}

// BenchmarkWarmPrint1 is BenchmarkPrint1 through a warm slot.
func BenchmarkWarmPrint1(b *testing.B) {
	sl, err := sandboxFor(b).NewSlot("python")
	if err != nil {
		b.Fatal(err)
	}
	defer sl.Close()
	latency(b, "warm", func() { warm(b, sl) })
}

func warm(b testing.TB, sl *sandbox.Slot) {
	res, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte("print(1)")})
	if err != nil || res.Stdout != "1\n" {
		b.Fatalf("warm: %+v %v", res, err)
	}
}

// BenchmarkWarmThroughput is BenchmarkThroughput on GOMAXPROCS warm slots
// (-cpu 2 gives the 2 slots).
func BenchmarkWarmThroughput(b *testing.B) {
	slots := warmSlots(b, sandboxFor(b), "python")
	throughput(b, "warm", func() {
		sl := <-slots
		warm(b, sl)
		slots <- sl
	})
}

// heavy is CPU-bound code that prints the CPU time its loop took.
const heavy = "import time\nt = time.process_time()\nsum(range(10**7))\nprint(time.process_time() - t)"

// BenchmarkCPUHeavy runs sum(range(10**7)) in a warm slot, cold, and with
// bare python3, alternately, and reports the median CPU time of the loop
// itself (time.process_time inside the program) and of the whole run
// (the cgroup's timeMs; rusage for bare python3): the sandbox should cost
// the program no CPU.
func BenchmarkCPUHeavy(b *testing.B) {
	s := sandboxFor(b)
	sl, err := s.NewSlot("python")
	if err != nil {
		b.Fatal(err)
	}
	defer sl.Close()
	var loop [3][]time.Duration
	var whole [3][]time.Duration
	secs := func(out string) time.Duration {
		f, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			b.Fatalf("output %q", out)
		}
		return time.Duration(f * float64(time.Second))
	}
	for i := 0; i < b.N; i++ {
		for k, run := range []func(context.Context, sandbox.Spec) (*onpyrunner.Result, error){sl.Run, s.Run} {
			res, err := run(context.Background(), sandbox.Spec{Code: []byte(heavy), Limits: onpyrunner.Limits{TimeMs: 10000, WallTimeMs: 20000}})
			if err != nil || res.Verdict != onpyrunner.OK {
				b.Fatalf("%+v %v", res, err)
			}
			loop[k] = append(loop[k], secs(res.Stdout))
			whole[k] = append(whole[k], time.Duration(res.TimeMs)*time.Millisecond)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", heavy)
		out, err := cmd.Output()
		if err != nil {
			b.Fatal(err)
		}
		loop[2] = append(loop[2], secs(string(out)))
		whole[2] = append(whole[2], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	for k, name := range []string{"warm", "cold", "bare"} {
		b.ReportMetric(float64(median(loop[k]).Microseconds())/1000, name+"-loop-ms")
		b.ReportMetric(float64(median(whole[k]).Microseconds())/1000, name+"-cpu-ms")
	}
	b.ReportMetric(float64(median(loop[0]))/float64(median(loop[2])), "warm/bare-loop")
}

// BenchmarkOwnRootsWarmThroughput is BenchmarkWarmThroughput on each
// runtime of its own root, against its interpreter started bare in its
// root (chroot, as root: no sandbox).
func BenchmarkOwnRootsWarmThroughput(b *testing.B) {
	sandboxFor(b)
	if rooted == nil {
		b.Skip("no runtime built")
	}
	for _, rt := range rooted.Runtimes() {
		if rt.Root != "" {
			b.Run(rt.Name, func(b *testing.B) { ownRootThroughput(b, rooted, rt, "print(1)", "1\n") })
		}
	}
}

// BenchmarkNumpyWarmThroughput is BenchmarkOwnRootsWarmThroughput of a
// numpy program on the runtime with numpy preloaded
// (testenv.NumpyRuntimesDir), against the same program bare in its root.
func BenchmarkNumpyWarmThroughput(b *testing.B) {
	s := numpySandbox(b)
	rt := s.Runtimes()[len(s.Runtimes())-1]
	for _, r := range s.Runtimes() {
		if len(r.Preload) > 0 {
			rt = r
		}
	}
	ownRootThroughput(b, s, rt, "import numpy\nprint(numpy.arange(3).sum())", "3\n")
}

// ownRootThroughput is throughputOf code on GOMAXPROCS warm slots of rt,
// against code bare in rt's root; each run prints want.
func ownRootThroughput(b *testing.B, s *sandbox.Sandbox, rt sandbox.Runtime, code, want string) {
	slots := warmSlots(b, s, rt.Name)
	throughputOf(b, "warm", func() {
		sl := <-slots
		defer func() { slots <- sl }()
		res, err := sl.Run(context.Background(), sandbox.Spec{Runtime: rt.Name, Code: []byte(code)})
		if err != nil || res.Stdout != want {
			b.Fatalf("warm: %+v %v", res, err)
		}
	}, func() {
		cmd := exec.Command(rt.Binary, "-c", code)
		cmd.Dir, cmd.Env = "/", []string{"LANG=C.UTF-8"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rt.Root}
		if out, err := cmd.Output(); err != nil || string(out) != want {
			b.Fatalf("bare %s: %q %v", rt.Name, out, err)
		}
	})
}

// warmSlots starts GOMAXPROCS warm slots of the runtime for b, closed when
// b ends.
func warmSlots(b *testing.B, s *sandbox.Sandbox, rt string) chan *sandbox.Slot {
	par := runtime.GOMAXPROCS(0)
	slots := make(chan *sandbox.Slot, par)
	for range par {
		sl, err := s.NewSlot(rt)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sl.Close() })
		slots <- sl
	}
	return slots
}
