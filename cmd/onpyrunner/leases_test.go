package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
)

// untilWorker waits until Redis shows the job run by the worker process
// with that pid.
func untilWorker(t *testing.T, store *redis.Store, id string, pid int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if w, _ := store.Worker(t.Context(), id); strings.Contains(w, fmt.Sprintf("-%d-", pid)) {
			return
		}
	}
	t.Fatalf("worker %d never took job %s", pid, id)
}

// TestDistributedStaleFinish: worker A is stopped (SIGSTOP) in the middle
// of a job; B takes the job over when A's lease runs out and, sent
// SIGTERM, hands it back to the queue; then A is continued and ends its
// run late. A's finish belongs to an attempt that is over: it must leave
// the job's new queue entry alone, so that the job still runs to the end
// (before the fix it stayed queued for ever).
func TestDistributedStaleFinish(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	a := startWorker(t, "--redis", rdb.URL, "--slots", "1", "--lease", "2s")
	store, err := redis.Open(t.Context(), redis.Config{URL: rdb.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	id := submitSlow(t, apiSrv.client, 8)
	untilRunning(t, apiSrv.client, id)
	untilWorker(t, store, id, a.cmd.Process.Pid)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	continued := false
	defer func() {
		if !continued {
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()

	b := startWorker(t, "--redis", rdb.URL, "--slots", "1", "--lease", "2s", "--drain", "200ms")
	untilWorker(t, store, id, b.cmd.Process.Pid)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.waitExit(t, 30*time.Second); err != nil {
		t.Fatalf("worker B exited with %v\n%s", err, b.logText())
	}
	if j, err := store.Get(t.Context(), id); err != nil || j.Status != onpyrunner.Queued {
		t.Fatalf("after B handed it back: %+v %v, want queued", j, err)
	}

	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	continued = true
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	j, err := apiSrv.client.Wait(ctx, id)
	if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != "a\nb\n" {
		t.Fatalf("the job after A's late finish: %+v %v, want it run to the end\nlog of A:\n%s", j, err, a.logText())
	}
	if j, err := store.Get(t.Context(), id); err != nil {
		t.Error(err)
	} else if j.Attempts < 3 {
		t.Errorf("attempts %d: want A, B and a third run after the hand-back", j.Attempts)
	}
	if st, err := store.Stats(t.Context()); err != nil || st.Queued != 0 || st.Running != 0 {
		t.Errorf("stats at the end: %+v %v, want nothing queued or running", st, err)
	}
}

// TestDistributedCancelsLeakNothing: many running jobs canceled by a
// client (the page's Stop button) leave the worker process no goroutines
// (lease renewals, log watches) and Redis no pending queue entries.
func TestDistributedCancelsLeakNothing(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	w := startCmd(t, listening, "worker", "--redis", rdb.URL, "--slots", "2", "--metrics-addr", "127.0.0.1:0")
	checkQuick(t, apiSrv.client, submitN(t, apiSrv.client, 4)) // every lazy part started
	before := goroutines(t, w.url)

	const cancels = 40
	for range cancels {
		id := submitSlow(t, apiSrv.client, 25)
		untilRunning(t, apiSrv.client, id)
		if _, err := apiSrv.client.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	checkQuick(t, apiSrv.client, submitN(t, apiSrv.client, 4)) // the slots are free again

	rc := goredis.NewClient(mustParseURL(t, rdb.URL))
	defer rc.Close()
	var pending int64
	var after int
	// A slot lets go of its canceled job just after the cancel's answer:
	// give the last ones a moment.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		queues, err := rc.Keys(t.Context(), "onpyrunner:queue*").Result()
		if err != nil || len(queues) == 0 {
			t.Fatalf("queues %v: %v", queues, err)
		}
		pending = 0
		for _, q := range queues {
			if q == "onpyrunner:queued" { // the count, not a queue
				continue
			}
			p, err := rc.XPending(t.Context(), q, "workers").Result()
			if err != nil {
				t.Fatal(err)
			}
			pending += p.Count
		}
		after = goroutines(t, w.url)
		if (pending == 0 && after <= before+2) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("after %d cancels: goroutines %d → %d, pending queue entries %d", cancels, before, after, pending)
	if pending != 0 {
		t.Errorf("%d pending queue entries left after the cancels", pending)
	}
	if after > before+2 {
		t.Errorf("the worker's goroutines went from %d to %d over %d cancels", before, after, cancels)
	}
}

func mustParseURL(t *testing.T, url string) *goredis.Options {
	t.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// goroutines reads go_goroutines from a process's /metrics.
func goroutines(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no go_goroutines in %s/metrics", base)
	return 0
}
