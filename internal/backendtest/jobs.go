package backendtest

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

func testClaimFIFO(t *testing.T, s onpyrunner.Store) {
	var jobs []*onpyrunner.Job
	for range 5 {
		jobs = append(jobs, submit(t, s, newJob()))
	}
	for _, want := range jobs {
		before := time.Now()
		j := claimAs(t, s, want)
		wantStatus(t, j, onpyrunner.Running)
		if j.StartedAt == nil || j.StartedAt.Before(before.Add(-time.Millisecond)) {
			t.Errorf("Claim: startedAt %v, want one after %v", j.StartedAt, before)
		}
		if j.Attempts != 1 {
			t.Errorf("Claim: attempts %d, want 1", j.Attempts)
		}
		if j.Code != want.Code || j.Input != want.Input || j.Language != want.Language || j.Limits != want.Limits {
			t.Errorf("Claim gave job %+v, want the one submitted %+v", j, want)
		}
		g := get(t, s, j.ID)
		wantStatus(t, g, onpyrunner.Running)
		if g.StartedAt == nil {
			t.Errorf("Get of a running job: no startedAt")
		}
	}
	claimNone(t, s)
}

func testClaimWaits(t *testing.T, s onpyrunner.Store) {
	got := make(chan *onpyrunner.Job, 1)
	go func() {
		j, err := s.Claim(bounded(t, wait))
		if err != nil {
			t.Errorf("Claim: %v", err)
		}
		got <- j
	}()
	select {
	case j := <-got:
		t.Fatalf("Claim on an empty queue returned at once: %+v", j)
	case <-time.After(200 * time.Millisecond):
	}
	j := submit(t, s, newJob())
	submitted := time.Now()
	select {
	case c := <-got:
		if c == nil || c.ID != j.ID {
			t.Fatalf("Claim gave %+v, want job %s", c, j.ID)
		}
		if d := time.Since(submitted); d > prompt/2 {
			t.Errorf("Claim returned %v after the Submit, want well under %v", d, prompt)
		}
	case <-time.After(wait):
		t.Fatalf("Claim still waits %v after a Submit", wait)
	}
}

func testClaimContext(t *testing.T, s onpyrunner.Store) {
	ctx, stop := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Claim(ctx)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	stop()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Claim after its context was canceled: %v, want context.Canceled", err)
		}
	case <-time.After(prompt):
		t.Fatalf("Claim still waits %v after its context was canceled", prompt)
	}
	claimNone(t, s) // a deadline gives context.DeadlineExceeded
}

func testClaimConcurrent(t *testing.T, s onpyrunner.Store) {
	const claimers, submitters, jobs = 8, 4, 200
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	var (
		mu     sync.Mutex
		claims = map[string]int{}
		total  int
		all    = make(chan struct{})
		wg     sync.WaitGroup
	)
	for range claimers {
		wg.Go(func() {
			for {
				j, err := s.Claim(ctx)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Claim: %v", err)
					}
					return
				}
				mu.Lock()
				claims[j.ID]++
				if total++; total == jobs {
					close(all)
				}
				mu.Unlock()
			}
		})
	}
	ids := make(chan string, jobs)
	var subs sync.WaitGroup
	for range submitters {
		subs.Go(func() {
			for range jobs / submitters {
				j := newJob()
				if err := s.Submit(ctx, j); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
				ids <- j.ID
			}
		})
	}
	subs.Wait()
	close(ids)
	select {
	case <-all:
		time.Sleep(100 * time.Millisecond) // room for a claim too many
	case <-ctx.Done():
		t.Errorf("timed out with %d of %d jobs claimed", total, jobs)
	}
	stop()
	wg.Wait()
	n := 0
	for id := range ids {
		n++
		if claims[id] != 1 {
			t.Errorf("job %s claimed %d times, want once", id, claims[id])
		}
	}
	if n != jobs || total != jobs || len(claims) != jobs {
		t.Errorf("%d jobs submitted, %d claims of %d jobs; want %d of each", n, total, len(claims), jobs)
	}
	wantStats(t, s, 0, jobs)
}

func testFinishCompleted(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	res := &onpyrunner.Result{Verdict: onpyrunner.RuntimeError, ExitCode: 1, Signal: "",
		Stdout: "out ✓\x00\n", Stderr: "Traceback…\n", StdoutTruncated: true,
		TimeMs: 12, WallTimeMs: 15, MemoryKB: 8740}
	j.Status, j.Result = onpyrunner.Completed, res
	before := time.Now()
	finish(t, s, j)
	got := get(t, s, j.ID)
	wantStatus(t, got, onpyrunner.Completed)
	if !reflect.DeepEqual(got.Result, res) {
		t.Errorf("Get: result %+v, want %+v", got.Result, res)
	}
	if got.FinishedAt == nil || got.FinishedAt.Before(before.Add(-time.Millisecond)) {
		t.Errorf("Get: finishedAt %v, want one after %v", got.FinishedAt, before)
	}
	if got.StartedAt == nil || got.Error != "" || got.Code != j.Code {
		t.Errorf("Get: startedAt %v error %q code %q after Finish", got.StartedAt, got.Error, got.Code)
	}
	wantStats(t, s, 0, 0)
	claimNone(t, s)
}

func testFinishFailed(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	j.Status, j.Error = onpyrunner.Failed, "this worker has no pypy runtime"
	finish(t, s, j)
	got := get(t, s, j.ID)
	wantStatus(t, got, onpyrunner.Failed)
	if got.Error != j.Error || got.Result != nil || got.FinishedAt == nil {
		t.Errorf("Get: error %q result %+v finishedAt %v, want error %q, no result, a finishedAt",
			got.Error, got.Result, got.FinishedAt, j.Error)
	}
	claimNone(t, s)
}

func testFinishHandBack(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	j.Status = onpyrunner.Queued
	finish(t, s, j)
	wantStatus(t, get(t, s, j.ID), onpyrunner.Queued)
	wantStats(t, s, 1, 0)
	evs, done := events(t, s, j.ID, 0)
	if done || len(evs) == 0 || evs[len(evs)-1] != status(len(evs), onpyrunner.Queued) {
		t.Errorf("Events after a hand-back = %v (done %v), want its last a status queued", evs, done)
	}
	again := claimAs(t, s, j)
	wantStatus(t, again, onpyrunner.Running)
	if again.Attempts != 2 {
		t.Errorf("Claim of a job handed back: attempts %d, want 2", again.Attempts)
	}
	again.Status, again.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, again)
	wantStatus(t, get(t, s, j.ID), onpyrunner.Completed)
}

func testCancelQueued(t *testing.T, s onpyrunner.Store) {
	a, b := submit(t, s, newJob()), submit(t, s, newJob())
	c := cancel(t, s, a.ID)
	wantStatus(t, c, onpyrunner.Canceled)
	if c.FinishedAt == nil {
		t.Errorf("Cancel: no finishedAt")
	}
	wantStatus(t, get(t, s, a.ID), onpyrunner.Canceled)
	wantStats(t, s, 1, 0)
	claimAs(t, s, b)
	claimNone(t, s) // the canceled job never runs
	wantStatus(t, get(t, s, a.ID), onpyrunner.Canceled)
}

func testCancelRunning(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	wantStatus(t, cancel(t, s, j.ID), onpyrunner.Canceled)
	wantStats(t, s, 0, 0)
	// The worker, not yet aware, finishes it: the job stays canceled.
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "late"}
	finish(t, s, j)
	got := get(t, s, j.ID)
	wantStatus(t, got, onpyrunner.Canceled)
	if got.Result != nil {
		t.Errorf("a canceled job got the result of a late Finish: %+v", got.Result)
	}
	// Nor does a hand-back bring it back to the queue.
	j.Status, j.Result = onpyrunner.Queued, nil
	finish(t, s, j)
	wantStatus(t, get(t, s, j.ID), onpyrunner.Canceled)
	claimNone(t, s)
}

func testCancelFinished(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "hello\n"}
	finish(t, s, j)
	want := get(t, s, j.ID)
	if got := cancel(t, s, j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Cancel of a completed job = %+v, want it unchanged: %+v", got, want)
	}
	if got := get(t, s, j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Get after a Cancel of a completed job = %+v, want it unchanged: %+v", got, want)
	}
}

func testCancelUnknown(t *testing.T, s onpyrunner.Store) {
	_, err := s.Cancel(bounded(t, wait), "no-such-job")
	wantCode(t, err, onpyrunner.CodeNotFound)
}

func testQueueCap(t *testing.T, s onpyrunner.Store) {
	var jobs []*onpyrunner.Job
	for range 3 {
		jobs = append(jobs, submit(t, s, newJob()))
	}
	over := newJob()
	wantCode(t, s.Submit(bounded(t, wait), over), onpyrunner.CodeQueueFull)
	_, err := s.Get(bounded(t, wait), over.ID)
	wantCode(t, err, onpyrunner.CodeNotFound) // a job refused is not kept
	wantStats(t, s, 3, 0)
	claimAs(t, s, jobs[0])
	submit(t, s, newJob()) // a running job leaves the queue
	wantCode(t, s.Submit(bounded(t, wait), newJob()), onpyrunner.CodeQueueFull)
	wantStats(t, s, 3, 1)
}

func testStats(t *testing.T, s onpyrunner.Store) {
	wantStats(t, s, 0, 0)
	a, b := submit(t, s, newJob()), submit(t, s, newJob())
	wantStats(t, s, 2, 0)
	j := claimAs(t, s, a)
	wantStats(t, s, 1, 1)
	j.Status = onpyrunner.Queued
	finish(t, s, j)
	wantStats(t, s, 2, 0)
	j = claim(t, s) // a handed back may come before or after b
	wantStats(t, s, 1, 1)
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, j)
	wantStats(t, s, 1, 0)
	other := map[string]string{a.ID: b.ID, b.ID: a.ID}[j.ID]
	wantStatus(t, cancel(t, s, other), onpyrunner.Canceled)
	wantStats(t, s, 0, 0)
}

// testEndedCounts: each job's end is counted once, where it ends, with its
// status and verdict; a hand-back is no end, and a job canceled while it
// runs counts as canceled, however its worker then finishes it.
func testEndedCounts(t *testing.T, s onpyrunner.Store) {
	run := func(st onpyrunner.Status, v onpyrunner.Verdict) {
		j := claimAs(t, s, submit(t, s, newJob()))
		j.Status = st
		if v != "" {
			j.Result = &onpyrunner.Result{Verdict: v}
		}
		finish(t, s, j)
	}
	run(onpyrunner.Completed, onpyrunner.OK)
	run(onpyrunner.Completed, onpyrunner.OK)
	run(onpyrunner.Completed, onpyrunner.TimeLimit)
	run(onpyrunner.Failed, "")
	cancel(t, s, submit(t, s, newJob()).ID) // queued
	for _, end := range []onpyrunner.Status{onpyrunner.Canceled, onpyrunner.Completed} {
		j := claimAs(t, s, submit(t, s, newJob()))
		cancel(t, s, j.ID) // running: the worker finishes it after
		j.Status, j.Result = end, &onpyrunner.Result{Verdict: onpyrunner.OK}
		finish(t, s, j)
	}
	j := claimAs(t, s, submit(t, s, newJob()))
	j.Status = onpyrunner.Queued // handed back, then canceled
	finish(t, s, j)
	cancel(t, s, j.ID)
	cancel(t, s, j.ID) // twice
	st, err := s.Stats(bounded(t, wait))
	if err != nil {
		t.Fatal(err)
	}
	want := map[onpyrunner.Ending]int64{
		{Status: onpyrunner.Completed, Verdict: onpyrunner.OK}:        2,
		{Status: onpyrunner.Completed, Verdict: onpyrunner.TimeLimit}: 1,
		{Status: onpyrunner.Failed}:                                   1,
		{Status: onpyrunner.Canceled}:                                 4,
	}
	if !maps.Equal(st.Ended, want) {
		t.Errorf("Stats.Ended = %v, want %v", st.Ended, want)
	}
}
