package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
)

// squareJob is job i: it prints i*i, slowly for every 5th, so that a
// worker killed at any moment is likely mid-run.
func squareJob(i int) api.SubmitRequest {
	code := "n = int(input())\nprint(n * n)"
	if i%5 == 0 {
		code = "import time\nn = int(input())\ntime.sleep(0.3)\nprint(n * n)"
	}
	return api.SubmitRequest{Code: &code, Input: strconv.Itoa(i) + "\n"}
}

// waitAll waits for each job and checks it printed its square.
func waitAll(t *testing.T, c *client.Client, ids map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bad := 0
	for id, i := range ids {
		j, err := c.Wait(ctx, id)
		if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != fmt.Sprintf("%d\n", i*i) {
			if bad++; bad <= 5 {
				t.Errorf("job %d (%s): %+v %v", i, id, j, err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d jobs went wrong", bad, len(ids))
	}
}

// TestDistributedWorkerKilled: 1 API, 3 workers and Redis; 500 jobs; one
// worker is killed with -9 while it runs a job. Every job completes with
// its output; the killed worker's job was taken over by another.
func TestDistributedWorkerKilled(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	var workers []*server
	for range 3 {
		workers = append(workers, startWorker(t, "--redis", rdb.URL, "--slots", "2", "--lease", "2s"))
	}
	ids := map[string]int{}
	for i := range 500 {
		j, err := apiSrv.client.Submit(t.Context(), squareJob(i), 0)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[j.ID] = i
	}
	// Kill worker 0 while Redis shows it running a job.
	store, err := redis.Open(t.Context(), redis.Config{URL: rdb.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	victim := workers[0].cmd.Process.Pid
	var killed string
	for deadline := time.Now().Add(30 * time.Second); killed == "" && time.Now().Before(deadline); {
		for id := range ids {
			if w, _ := store.Worker(t.Context(), id); strings.Contains(w, fmt.Sprintf("-%d-", victim)) {
				killed = id
				break
			}
		}
	}
	if killed == "" {
		t.Fatal("worker 0 never ran a job")
	}
	if err := workers[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitAll(t, apiSrv.client, ids)
	j, err := store.Get(t.Context(), killed)
	if err != nil || j.Attempts < 2 {
		t.Errorf("the job running at the kill: %+v %v, want it run again by another worker", j, err)
	}
}

// TestDistributedStreamAndCancel: a client of the API process streams the
// output of a job that a worker process runs, and its cancel reaches that
// worker.
func TestDistributedStreamAndCancel(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	startWorker(t, "--redis", rdb.URL, "--slots", "1")
	code := "import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.1)"
	j, err := apiSrv.client.Submit(t.Context(), api.SubmitRequest{Code: &code,
		Limits: &api.RequestLimits{WallTimeMs: ptr[int64](20000)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	final, err := apiSrv.client.Events(ctx, j.ID, 0, func(ev client.Event) error {
		if ev.Type == "stdout" {
			lines.WriteString(ev.Text)
			if strings.Contains(lines.String(), "\n2\n") {
				if _, err := apiSrv.client.Cancel(ctx, j.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || final.Status != onpyrunner.Canceled {
		t.Fatalf("stream: %+v %v", final, err)
	}
	// The worker's one slot is free again: the run was killed, not left to
	// finish its 10 s.
	next := "print('next')"
	t0 := time.Now()
	n, err := apiSrv.client.Submit(t.Context(), api.SubmitRequest{Code: &next}, 30*time.Second)
	if err != nil || n.Status != onpyrunner.Completed || n.Result.Stdout != "next\n" {
		t.Fatalf("next job: %+v %v", n, err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("the next job took %v: the canceled run went on", took)
	}
}

// TestRedisRestart: Redis stops and starts again (AOF) while clients
// submit; the API answers 503 meanwhile, never hangs, and every job it
// accepted completes.
func TestRedisRestart(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	startWorker(t, "--redis", rdb.URL, "--slots", "2", "--lease", "2s")
	var (
		mu       sync.Mutex
		ids      = map[string]int{}
		failed   int
		slowest  time.Duration
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		next     = 0
		hc       = client.New(apiSrv.url, nil)
		errOther error
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				t0 := time.Now()
				j, err := hc.Submit(ctx, squareJob(i), 0)
				took := time.Since(t0)
				cancel()
				mu.Lock()
				switch ce, ok := errors.AsType[*client.Error](err); {
				case err == nil:
					ids[j.ID] = i
				case ok && ce.StatusCode == 503:
					failed++
					slowest = max(slowest, took)
				default:
					errOther = err
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	rdb.Stop(t)
	time.Sleep(2 * time.Second)
	rdb.Start(t)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if errOther != nil {
		t.Fatalf("a submission failed with other than 503: %v", errOther)
	}
	if failed == 0 {
		t.Fatal("no submission met the outage")
	}
	if slowest > 10*time.Second {
		t.Errorf("a refused submission took %v", slowest)
	}
	t.Logf("%d accepted, %d refused with 503 (slowest refusal %v)", len(ids), failed, slowest)
	waitAll(t, apiSrv.client, ids)
}
