package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/loadgen"
)

// benchWaiters measures what waiting clients cost everyone else: the
// latency of a normal request (GET of a finished job) from conc clients
// for d with nobody waiting, then with n clients in ?wait= long-polls on
// jobs that sleep for as long as the server lets them.
func benchWaiters(ctx context.Context, c *client.Client, server string, n, conc int, d time.Duration, stdout io.Writer) int {
	fail := func(what string, err error) int {
		fmt.Fprintf(stdout, "onpyrunner bench: %s: %v\n", what, err)
		return 1
	}
	rts, err := c.Runtimes(ctx)
	if err != nil {
		return fail("runtimes", err)
	}
	done, err := c.Submit(ctx, api.SubmitRequest{Code: new("print(1)")}, time.Minute)
	if err != nil {
		return fail("the job to read", err)
	}
	read := func(ctx context.Context) error { _, err := c.Get(ctx, done.ID, 0); return err }

	wall := *rts.MaxLimits.WallTimeMs
	sleep := fmt.Sprintf("import time; time.sleep(%d)", wall/1000-1)
	jobs := make([]string, max(1, n/500))
	for i := range jobs {
		j, err := c.Submit(ctx, api.SubmitRequest{Code: &sleep, Limits: &api.RequestLimits{WallTimeMs: &wall}}, 0)
		if err != nil {
			return fail("a job to wait on", err)
		}
		jobs[i] = j.ID
	}
	defer func() {
		for _, id := range jobs {
			_, _ = c.Cancel(context.WithoutCancel(ctx), id)
		}
	}()

	fmt.Fprintf(stdout, "GET of a finished job, %d clients, %s; then the same with %d clients waiting (?wait=) on %d jobs that sleep %ds\n",
		conc, d, n, len(jobs), wall/1000-1)
	idle := loadgen.Run(ctx, conc, d, read)
	fmt.Fprintf(stdout, "nobody waiting: %s\n", idle)

	// The waiters get connections of their own, as many as they are.
	wc := client.New(server, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}})
	wctx, stop := context.WithCancel(ctx)
	var waiting atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			waiting.Add(1)
			defer waiting.Add(-1)
			for wctx.Err() == nil {
				if j, err := wc.Get(wctx, jobs[i%len(jobs)], 30*time.Second); err != nil || j.Status.Final() {
					return
				}
			}
		})
	}
	time.Sleep(2 * time.Second) // their requests reach the server and wait
	before := waiting.Load()
	busy := loadgen.Run(ctx, conc, d, read)
	after := waiting.Load()
	stop()
	wg.Wait()
	fmt.Fprintf(stdout, "%d waiting:    %s (waiting at the start %d, at the end %d)\n", n, busy, before, after)
	if p := idle.Percentile(99); p > 0 {
		fmt.Fprintf(stdout, "ratio:          p50 %.2f×, p99 %.2f× the idle latency\n",
			float64(busy.Percentile(50))/float64(idle.Percentile(50)), float64(busy.Percentile(99))/float64(p))
	}
	return 0
}
