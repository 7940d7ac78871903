// Package loadgen drives a function from several goroutines for a while
// and reports its rate and latency percentiles: the engine of `onpyrunner
// bench` and of the end-to-end benchmarks.
package loadgen

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Report is what a load run measured.
type Report struct {
	Done     int             // calls that succeeded
	Errors   int             // calls that failed
	FirstErr error           // the first failure, if any
	Elapsed  time.Duration   // wall time of the whole run
	lat      []time.Duration // latency of each success, sorted
}

// Run calls fn from c goroutines, back to back, until d has passed (or ctx
// ends), and reports. It never starts a call after d.
func Run(ctx context.Context, c int, d time.Duration, fn func(context.Context) error) Report {
	var (
		mu sync.Mutex
		r  Report
		wg sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for range max(c, 1) {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				err := fn(ctx)
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					r.Errors++
					if r.FirstErr == nil {
						r.FirstErr = err
					}
				} else {
					r.Done++
					r.lat = append(r.lat, took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	slices.Sort(r.lat)
	return r
}

// Add merges o, a run of the same calls, into r: their counts, latencies
// and wall times add up.
func (r *Report) Add(o Report) {
	r.Done += o.Done
	r.Errors += o.Errors
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
	r.Elapsed += o.Elapsed
	r.lat = append(r.lat, o.lat...)
	slices.Sort(r.lat)
}

// Rate is successful calls per second.
func (r Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Done) / r.Elapsed.Seconds()
}

// Percentile is the latency that p percent of successful calls beat
// (nearest rank); zero when none succeeded.
func (r Report) Percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

// String is the report on one line.
func (r Report) String() string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("%d ok, %d errors in %.1fs: %.1f/s, latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms",
		r.Done, r.Errors, r.Elapsed.Seconds(), r.Rate(), ms(r.Percentile(50)), ms(r.Percentile(90)), ms(r.Percentile(99)))
}
