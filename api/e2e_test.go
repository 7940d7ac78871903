package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

func ptr[T any](v T) *T { return &v }

func submit(t testing.TB, c *client.Client, req api.SubmitRequest, wait time.Duration) *onpyrunner.Job {
	t.Helper()
	j, err := c.Submit(t.Context(), req, wait)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return j
}

func wait(t testing.TB, c *client.Client, id string) *onpyrunner.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	j, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	return j
}

func TestSubmitPollWait(t *testing.T) {
	s := newServer(t, serverOpts{})
	req := api.SubmitRequest{Code: ptr("print(input()[::-1])"), Input: "olleh\n"}

	t.Run("submit answers at once", func(t *testing.T) {
		j := submit(t, s.Client, req, 0)
		if j.ID == "" || j.Status != onpyrunner.Queued {
			t.Fatalf("got %+v, want a queued job with an id", j)
		}
		if len(j.ID) < 26 {
			t.Errorf("job id %q: shorter than 128 random bits", j.ID)
		}
		// Poll without waiting until it ends.
		deadline := time.Now().Add(30 * time.Second)
		for !j.Status.Final() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			var err error
			if j, err = s.Client.Get(t.Context(), j.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
		checkHello(t, j)
	})
	t.Run("submit and wait", func(t *testing.T) {
		checkHello(t, submit(t, s.Client, req, 30*time.Second))
	})
	t.Run("get waits", func(t *testing.T) {
		j := submit(t, s.Client, req, 0)
		j, err := s.Client.Get(t.Context(), j.ID, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		checkHello(t, j)
	})
	t.Run("a short wait answers unfinished", func(t *testing.T) {
		j := submit(t, s.Client, api.SubmitRequest{Code: ptr("import time; time.sleep(1)")}, 50*time.Millisecond)
		if j.Status.Final() {
			t.Fatalf("status %s after 50ms of a 1s program", j.Status)
		}
		if j = wait(t, s.Client, j.ID); j.Status != onpyrunner.Completed {
			t.Fatalf("status %s", j.Status)
		}
	})
	t.Run("ids differ", func(t *testing.T) {
		seen := map[string]bool{}
		for range 20 {
			j := submit(t, s.Client, api.SubmitRequest{Code: ptr("")}, 0)
			if seen[j.ID] {
				t.Fatalf("id %s twice", j.ID)
			}
			seen[j.ID] = true
		}
	})
}

func checkHello(t *testing.T, j *onpyrunner.Job) {
	t.Helper()
	if j.Status != onpyrunner.Completed || j.Result == nil {
		t.Fatalf("got %+v, want completed", j)
	}
	if j.Result.Verdict != onpyrunner.OK || j.Result.Stdout != "hello\n" {
		t.Fatalf("result %+v", j.Result)
	}
	if j.StartedAt == nil || j.FinishedAt == nil || j.StartedAt.Before(j.CreatedAt) || j.FinishedAt.Before(*j.StartedAt) {
		t.Errorf("times: created %v started %v finished %v", j.CreatedAt, j.StartedAt, j.FinishedAt)
	}
	if j.Code != "" || j.Input != "" {
		t.Errorf("code and input shown without ?include=source")
	}
}

func TestVerdicts(t *testing.T) {
	s := newServer(t, serverOpts{})
	for _, tc := range []struct {
		name, code string
		limits     *api.RequestLimits
		verdict    onpyrunner.Verdict
		exit       int
		signal     string
	}{
		{"ok", "print('fine')", nil, onpyrunner.OK, 0, ""},
		{"exit code", "import sys; sys.exit(3)", nil, onpyrunner.RuntimeError, 3, ""},
		{"exception", "1/0", nil, onpyrunner.RuntimeError, 1, ""},
		{"killed itself", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", nil, onpyrunner.RuntimeError, 137, "SIGKILL"},
		{"cpu", "while True: pass", &api.RequestLimits{TimeMs: ptr[int64](300)}, onpyrunner.TimeLimit, 137, "SIGKILL"},
		{"wall", "import time; time.sleep(10)", &api.RequestLimits{WallTimeMs: ptr[int64](500)}, onpyrunner.WallTimeLimit, 137, "SIGKILL"},
		{"memory", "x = bytearray(200 << 20); print(len(x))", &api.RequestLimits{MemoryMB: ptr[int64](64)}, onpyrunner.MemoryLimit, 137, "SIGKILL"},
		{"output", "while True: print('x' * 100)", &api.RequestLimits{OutputKB: ptr[int64](1)}, onpyrunner.OutputLimit, 137, "SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := submit(t, s.Client, api.SubmitRequest{Code: &tc.code, Limits: tc.limits}, 30*time.Second)
			if j.Status != onpyrunner.Completed || j.Result == nil {
				t.Fatalf("status %s error %q", j.Status, j.Error)
			}
			r := j.Result
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s (stderr %q)", r.Verdict, tc.verdict, r.Stderr)
			}
			if tc.verdict == onpyrunner.OK || tc.verdict == onpyrunner.RuntimeError {
				if r.ExitCode != tc.exit || r.Signal != tc.signal {
					t.Errorf("exit %d signal %q, want %d %q", r.ExitCode, r.Signal, tc.exit, tc.signal)
				}
			}
			if tc.verdict == onpyrunner.OutputLimit && (len(r.Stdout) != 1024 || !r.StdoutTruncated) {
				t.Errorf("stdout %d bytes truncated %v, want cut at 1024", len(r.Stdout), r.StdoutTruncated)
			}
		})
	}
}

func TestStream(t *testing.T) {
	s := newServer(t, serverOpts{})
	code := `import sys, time
for i in range(3):
    print(i, flush=True)
    time.sleep(0.3)
print("done", file=sys.stderr)
`
	j := submit(t, s.Client, api.SubmitRequest{Code: &code}, 0)
	var (
		events   []client.Event
		firstOut time.Time
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	final, err := s.Client.Events(ctx, j.ID, 0, func(ev client.Event) error {
		if ev.Type == "stdout" && firstOut.IsZero() {
			firstOut = time.Now()
		}
		events = append(events, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if final == nil || final.Status != onpyrunner.Completed || final.Result.Stdout != "0\n1\n2\n" {
		t.Fatalf("result %+v", final)
	}
	if firstOut.IsZero() || !firstOut.Before(*final.FinishedAt) {
		t.Errorf("first output at %v, job finished at %v: output did not stream live", firstOut, final.FinishedAt)
	}
	var kinds []string
	var stdout, stderr strings.Builder
	last := 0
	for _, ev := range events {
		switch ev.Type {
		case "status":
			kinds = append(kinds, string(ev.Status))
		case "stdout":
			stdout.WriteString(ev.Text)
		case "stderr":
			stderr.WriteString(ev.Text)
		}
		if ev.ID != 0 && ev.ID <= last {
			t.Errorf("event ids not increasing: %d after %d", ev.ID, last)
		}
		last = max(last, ev.ID)
	}
	if got := strings.Join(kinds, ","); got != "queued,running,completed" {
		t.Errorf("statuses %s", got)
	}
	if stdout.String() != "0\n1\n2\n" || stderr.String() != "done\n" {
		t.Errorf("streamed stdout %q stderr %q", stdout.String(), stderr.String())
	}

	// A live log is gone once the job ends: a late subscriber gets the
	// final status, the whole output and the result; one that reconnects
	// after an event it saw gets the final status and the result.
	for _, tc := range []struct {
		name  string
		after int
		want  string
	}{
		{"late subscriber", 0, "status:completed|stdout:0\n1\n2\n|stderr:done\n|result:"},
		{"reconnect after an id", 2, "status:completed|result:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			res, err := s.Client.Events(ctx, j.ID, tc.after, func(ev client.Event) error {
				got = append(got, ev.Type+":"+string(ev.Status)+ev.Text)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != tc.want || res.Result.Stdout != "0\n1\n2\n" {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("unknown job", func(t *testing.T) {
		_, err := s.Client.Events(ctx, "NOSUCHJOB", 0, func(client.Event) error { return nil })
		if ce, ok := errors.AsType[*client.Error](err); !ok || ce.StatusCode != 404 {
			t.Errorf("got %v, want 404", err)
		}
	})
}

func TestCancel(t *testing.T) {
	s := newServer(t, serverOpts{slots: 1})
	sleep := api.SubmitRequest{Code: ptr("import time\nprint('started', flush=True)\ntime.sleep(4)"),
		Limits: &api.RequestLimits{WallTimeMs: ptr[int64](10000)}}
	running := submit(t, s.Client, sleep, 0)
	queued := submit(t, s.Client, sleep, 0)
	// Wait until the first one prints: it is running.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errStarted := errors.New("started")
	if _, err := s.Client.Events(ctx, running.ID, 0, func(ev client.Event) error {
		if ev.Type == "stdout" {
			return errStarted
		}
		return nil
	}); !errors.Is(err, errStarted) {
		t.Fatalf("waiting for the first job to start: %v", err)
	}

	t.Run("queued", func(t *testing.T) {
		j, err := s.Client.Cancel(t.Context(), queued.ID)
		if err != nil || j.Status != onpyrunner.Canceled {
			t.Fatalf("cancel: %+v %v", j, err)
		}
	})
	t.Run("running", func(t *testing.T) {
		t0 := time.Now()
		j, err := s.Client.Cancel(t.Context(), running.ID)
		if err != nil || j.Status != onpyrunner.Canceled {
			t.Fatalf("cancel: %+v %v", j, err)
		}
		// The slot is free again long before the 4 s sleep would end.
		next := submit(t, s.Client, api.SubmitRequest{Code: ptr("print('next')")}, 30*time.Second)
		if next.Status != onpyrunner.Completed || next.Result.Stdout != "next\n" {
			t.Fatalf("next job: %+v", next)
		}
		if took := time.Since(t0); took > 3500*time.Millisecond {
			t.Errorf("the next job waited %v: the canceled run was not killed", took)
		}
	})
	t.Run("stays canceled", func(t *testing.T) {
		for _, id := range []string{queued.ID, running.ID} {
			j, err := s.Client.Get(t.Context(), id, 0)
			if err != nil || j.Status != onpyrunner.Canceled {
				t.Errorf("job %s: %+v %v", id, j, err)
			}
		}
		// The queued one never ran; the running one keeps what its run
		// wrote (its result comes with the worker's end of it).
		if j, _ := s.Client.Get(t.Context(), queued.ID, 0); j.Result != nil {
			t.Errorf("the canceled queued job has a result: %+v", j.Result)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			j, _ := s.Client.Get(t.Context(), running.ID, 0)
			if j.Result != nil {
				if j.Result.Stdout != "started\n" {
					t.Errorf("the canceled running job's output: %+v", j.Result)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the canceled running job has no result")
			}
			time.Sleep(10 * time.Millisecond)
		}
		j, _ := s.Client.Get(t.Context(), queued.ID, 0)
		if j.StartedAt != nil {
			t.Errorf("the canceled queued job started at %v", j.StartedAt)
		}
	})
	t.Run("finished job", func(t *testing.T) {
		done := submit(t, s.Client, api.SubmitRequest{Code: ptr("print(1)")}, 30*time.Second)
		j, err := s.Client.Cancel(t.Context(), done.ID)
		if err != nil || j.Status != onpyrunner.Completed {
			t.Errorf("cancel of a finished job: %+v %v", j, err)
		}
	})
	t.Run("unknown job", func(t *testing.T) {
		_, err := s.Client.Cancel(t.Context(), "NOSUCHJOB")
		if ce, ok := errors.AsType[*client.Error](err); !ok || ce.StatusCode != 404 || ce.Code != onpyrunner.CodeNotFound {
			t.Errorf("got %v, want 404 not_found", err)
		}
	})
}

func TestQueueFull(t *testing.T) {
	s := newServer(t, serverOpts{slots: 1, store: sqliteCap(2)})
	sleep := api.SubmitRequest{Code: ptr("import time; time.sleep(3)")}
	var ids []string
	first := submit(t, s.Client, sleep, 0).ID
	ids = append(ids, first)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if j, err := s.Client.Get(t.Context(), first, 0); err != nil || j.Status == onpyrunner.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first job never started")
		}
	}
	for range 2 { // one runs, two wait
		ids = append(ids, submit(t, s.Client, sleep, 0).ID)
	}
	defer func() {
		for _, id := range ids {
			_, _ = s.Client.Cancel(context.Background(), id)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var j *onpyrunner.Job
		if j, err = s.Client.Submit(t.Context(), sleep, 0); err == nil {
			ids = append(ids, j.ID) // the first had not started yet
			continue
		}
		break
	}
	ce, ok := errors.AsType[*client.Error](err)
	if !ok || ce.StatusCode != 503 || ce.Code != onpyrunner.CodeQueueFull {
		t.Fatalf("got %v, want 503 queue_full", err)
	}
}

func TestThousandJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	s := newServer(t, serverOpts{})
	const clients, jobs = 50, 1000
	next := make(chan int, jobs)
	for i := range jobs {
		next <- i
	}
	close(next)
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				req := api.SubmitRequest{Code: ptr("n = int(input())\nprint(n * n)"), Input: fmt.Sprintf("%d\n", i)}
				j, err := s.Client.Submit(t.Context(), req, time.Minute)
				if err == nil && !j.Status.Final() {
					j, err = s.Client.Wait(t.Context(), j.ID)
				}
				want := fmt.Sprintf("%d\n", i*i)
				if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != want {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("job %d: %v %+v", i, err, j))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d jobs went wrong, first: %s", len(bad), jobs, bad[0])
	}
	st, err := s.Store.Stats(t.Context())
	if err != nil || st.Queued != 0 || st.Running != 0 {
		t.Errorf("stats after all jobs: %+v %v", st, err)
	}
}
