package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/backendtest"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
	goredis "github.com/redis/go-redis/v9"
)

// TestConformance runs the store suite against a real redis-server, each
// subtest in a key prefix of its own.
func TestConformance(t *testing.T) {
	srv := testenv.StartRedis(t)
	backendtest.Run(t, func(t *testing.T, cfg backendtest.Config) onpyrunner.Store {
		s, err := redis.Open(context.Background(), redis.Config{URL: srv.URL, Prefix: rand.Text() + ":", QueueCap: cfg.QueueCap})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func open(t *testing.T, url, prefix string, lease time.Duration, attempts int) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), redis.Config{URL: url, Prefix: prefix, Lease: lease, MaxAttempts: attempts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func submitOne(t *testing.T, s *redis.Store) string {
	t.Helper()
	j := &onpyrunner.Job{ID: rand.Text(), Language: "python", Code: "print(1)"}
	if err := s.Submit(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func claimWithin(t *testing.T, s *redis.Store, d time.Duration) (*onpyrunner.Job, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.Claim(ctx)
}

// TestLeases: a worker that stops renewing loses its job to another after
// the lease; one that renews keeps it however long it runs; a job whose
// workers keep dying ends failed.
func TestLeases(t *testing.T) {
	srv := testenv.StartRedis(t)
	const lease = 600 * time.Millisecond

	t.Run("dead worker's job is taken over", func(t *testing.T) {
		prefix := rand.Text() + ":"
		a, b := open(t, srv.URL, prefix, lease, 3), open(t, srv.URL, prefix, lease, 3)
		id := submitOne(t, a)
		if j, err := claimWithin(t, a, 5*time.Second); err != nil || j.ID != id {
			t.Fatalf("claim: %+v %v", j, err)
		}
		a.Close() // dies: no more renewals, no Finish
		j, err := claimWithin(t, b, 10*time.Second)
		if err != nil || j.ID != id || j.Attempts != 2 || j.Status != onpyrunner.Running {
			t.Fatalf("takeover: %+v %v", j, err)
		}
		j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "1\n"}
		if err := b.Finish(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(t.Context(), id); err != nil || got.Status != onpyrunner.Completed {
			t.Fatalf("after finish: %+v %v", got, err)
		}
	})
	t.Run("stale finish leaves a handed-back job queued", func(t *testing.T) {
		// A stops (SIGSTOP: no renewals), B takes the job over and hands
		// it back (SIGTERM); then A goes on and finishes it late. The job
		// must stay queued with its new queue entry, for C to run.
		prefix := rand.Text() + ":"
		a, b, c := open(t, srv.URL, prefix, lease, 3), open(t, srv.URL, prefix, lease, 3), open(t, srv.URL, prefix, lease, 3)
		id := submitOne(t, a)
		ja, err := claimWithin(t, a, 5*time.Second)
		if err != nil || ja.ID != id {
			t.Fatalf("claim: %+v %v", ja, err)
		}
		redis.PauseLease(a, id)
		jb, err := claimWithin(t, b, 10*time.Second)
		if err != nil || jb.ID != id {
			t.Fatalf("takeover: %+v %v", jb, err)
		}
		jb.Status = onpyrunner.Queued
		if err := b.Finish(t.Context(), jb); err != nil {
			t.Fatal(err)
		}
		ja.Status, ja.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
		if err := a.Finish(t.Context(), ja); err != nil {
			t.Fatal(err)
		}
		if j, err := c.Get(t.Context(), id); err != nil || j.Status != onpyrunner.Queued {
			t.Fatalf("after the late finish: %+v %v, want queued", j, err)
		}
		if j, err := claimWithin(t, c, 10*time.Second); err != nil || j.ID != id || j.Status != onpyrunner.Running {
			t.Fatalf("the handed-back job is not claimed again: %+v %v", j, err)
		}
	})
	t.Run("canceled running job is let go", func(t *testing.T) {
		// The worker's Finish after a cancel leaves no pending queue
		// entry (nor lease renewal) behind.
		prefix := rand.Text() + ":"
		a := open(t, srv.URL, prefix, lease, 3)
		opt, err := goredis.ParseURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := goredis.NewClient(opt)
		defer rdb.Close()
		for range 5 {
			id := submitOne(t, a)
			j, err := claimWithin(t, a, 5*time.Second)
			if err != nil || j.ID != id {
				t.Fatalf("claim: %+v %v", j, err)
			}
			if _, err = a.Cancel(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			j.Status = onpyrunner.Canceled
			if err := a.Finish(t.Context(), j); err != nil {
				t.Fatal(err)
			}
			if got, err := a.Get(t.Context(), id); err != nil || got.Status != onpyrunner.Canceled {
				t.Fatalf("after finish: %+v %v", got, err)
			}
		}
		pending, err := rdb.XPending(t.Context(), prefix+"queue", "workers").Result()
		if err != nil || pending.Count != 0 {
			t.Errorf("pending entries after 5 canceled runs: %+v %v", pending, err)
		}
		if n := redis.Leases(a); n != 0 {
			t.Errorf("%d lease renewals left", n)
		}
	})
	t.Run("renewed lease is kept", func(t *testing.T) {
		prefix := rand.Text() + ":"
		a, b := open(t, srv.URL, prefix, lease, 3), open(t, srv.URL, prefix, lease, 3)
		id := submitOne(t, a)
		if _, err := claimWithin(t, a, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if j, err := claimWithin(t, b, 4*lease); err == nil {
			t.Fatalf("a live worker's job was taken: %+v", j)
		}
		if j, err := a.Get(t.Context(), id); err != nil || j.Attempts != 1 || j.Status != onpyrunner.Running {
			t.Fatalf("job %+v %v", j, err)
		}
	})
	t.Run("out of attempts", func(t *testing.T) {
		prefix := rand.Text() + ":"
		id := submitOne(t, open(t, srv.URL, prefix, lease, 2))
		for range 2 { // two workers die with it
			w := open(t, srv.URL, prefix, lease, 2)
			if j, err := claimWithin(t, w, 10*time.Second); err != nil || j.ID != id {
				t.Fatalf("claim: %+v %v", j, err)
			}
			w.Close()
		}
		last := open(t, srv.URL, prefix, lease, 2)
		if j, err := claimWithin(t, last, 3*lease); err == nil {
			t.Fatalf("claimed a third time: %+v", j)
		}
		j, err := last.Get(t.Context(), id)
		if err != nil || j.Status != onpyrunner.Failed || j.Error == "" || j.FinishedAt == nil {
			t.Fatalf("job %+v %v, want failed with an error", j, err)
		}
	})
}

// TestUnreachable: with Redis away, every call fails fast with
// CodeUnavailable, and works again once it is back.
func TestUnreachable(t *testing.T) {
	srv := testenv.StartRedis(t)
	s := open(t, srv.URL, rand.Text()+":", time.Second, 3)
	id := submitOne(t, s)
	srv.Stop(t)
	t0 := time.Now()
	for name, call := range map[string]func() error{
		"submit": func() error { return s.Submit(t.Context(), &onpyrunner.Job{ID: rand.Text(), Language: "python"}) },
		"get":    func() error { _, err := s.Get(t.Context(), id); return err },
		"stats":  func() error { _, err := s.Stats(t.Context()); return err },
		"claim":  func() error { _, err := s.Claim(t.Context()); return err },
		"events": func() error { _, _, err := s.Events(t.Context(), id, 0); return err },
	} {
		e, ok := errors.AsType[*onpyrunner.Error](call())
		if !ok || e.Code != onpyrunner.CodeUnavailable {
			t.Errorf("%s: got %v, want %s", name, e, onpyrunner.CodeUnavailable)
		}
	}
	if took := time.Since(t0); took > 20*time.Second {
		t.Errorf("the failing calls took %v", took)
	}
	srv.Start(t)
	if j, err := s.Get(t.Context(), id); err != nil || j.Status != onpyrunner.Queued {
		t.Errorf("after Redis came back (AOF): %+v %v", j, err)
	}
}

// TestRefusedCommandIsInternal: an error that Redis answers (here a job
// key of the wrong type, as a bug of ours would leave it) is internal, a
// 500, not an outage.
func TestRefusedCommandIsInternal(t *testing.T) {
	srv := testenv.StartRedis(t)
	prefix := rand.Text() + ":"
	s := open(t, srv.URL, prefix, time.Second, 3)
	opt, err := goredis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(opt)
	defer raw.Close()
	if err := raw.Set(t.Context(), prefix+"job:BROKEN", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := s.Get(t.Context(), "BROKEN"); return err },
		"cancel": func() error { _, err := s.Cancel(t.Context(), "BROKEN"); return err },
	} {
		if e, ok := errors.AsType[*onpyrunner.Error](call()); !ok || e.Code != onpyrunner.CodeInternal {
			t.Errorf("%s: got %v, want %s", name, e, onpyrunner.CodeInternal)
		}
	}
}

func TestRuntimes(t *testing.T) {
	srv := testenv.StartRedis(t)
	s := open(t, srv.URL, rand.Text()+":", time.Second, 3)
	published := []onpyrunner.Runtime{{Language: "pypy", Version: "3.11.17", Implementation: "pypy", ImplementationVersion: "8.0.1", Packages: []string{}},
		{Language: "python", Version: "3.11.2", Implementation: "cpython", Packages: []string{}},
		{Language: "python", Version: "3.14.10", Implementation: "cpython", Packages: []string{"python3-numpy"}}}
	if err := s.PublishRuntimes(t.Context(), published, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.Runtimes(t.Context())
	want := onpyrunner.MarkDefaults(published)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) || !got[0].Default || got[0].Version != "3.14.10" {
		t.Errorf("runtimes %+v %v, want %+v", got, err, want)
	}
}

// TestOneRetention: the retention is one setting kept in Redis: a process
// opened without one (an API process) keeps canceled and finished jobs for
// the retention another process set, and its 404 quotes that one.
func TestOneRetention(t *testing.T) {
	srv := testenv.StartRedis(t)
	prefix := rand.Text() + ":"
	worker, err := redis.Open(t.Context(), redis.Config{URL: srv.URL, Prefix: prefix, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	api, err := redis.Open(t.Context(), redis.Config{URL: srv.URL, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL, "redis://"), "/0")})
	defer rdb.Close()
	ttl := func(id string) time.Duration {
		d, err := rdb.TTL(t.Context(), prefix+"job:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	canceled := submitOne(t, api)
	if _, err := api.Cancel(t.Context(), canceled); err != nil {
		t.Fatal(err)
	}
	done := submitOne(t, api)
	j, err := claimWithin(t, worker, 5*time.Second)
	if err != nil || j == nil || j.ID != done {
		t.Fatalf("Claim: %v %v", j, err)
	}
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	if err := worker.Finish(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{canceled, done} {
		if d := ttl(id); d <= 59*time.Minute || d > time.Hour {
			t.Errorf("job %s kept for %v, want the 1h kept in Redis", id, d)
		}
	}
	_, err = api.Get(t.Context(), "nosuchjob")
	if err == nil || !strings.Contains(err.Error(), "kept for 1h0m0s") {
		t.Errorf("404 of the API process: %v, want the retention kept in Redis", err)
	}
}

// TestRedisFull: a Redis at its maxmemory refuses writes; a submission
// then says the store is full (503), not that it does not answer, and so
// does a worker's publication of its runtimes.
func TestRedisFull(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL, "redis://"), "/0")})
	defer rdb.Close()
	if err := rdb.ConfigSet(t.Context(), "maxmemory", "4mb").Err(); err != nil {
		t.Fatal(err)
	}
	// The byte budget (90% of maxmemory) would refuse submissions first.
	s, err := redis.Open(t.Context(), redis.Config{URL: srv.URL, Prefix: rand.Text() + ":", MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	input := strings.Repeat("x", 256<<10)
	for i := 0; err == nil; i++ {
		if i > 100 {
			t.Fatal("25 MiB of jobs in a Redis of 4 MiB")
		}
		err = s.Submit(t.Context(), &onpyrunner.Job{ID: rand.Text(), Language: "python", Code: "pass", Input: input})
	}
	// Now below what Redis holds: every write is refused.
	if err := rdb.ConfigSet(t.Context(), "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"a submission": err,
		"runtimes":     s.PublishRuntimes(t.Context(), []onpyrunner.Runtime{{Language: "python", Version: "3"}}, time.Minute),
	} {
		e, ok := errors.AsType[*onpyrunner.Error](err)
		if !ok || e.Code != onpyrunner.CodeUnavailable || !strings.Contains(e.Message, "Redis is at its maxmemory") {
			t.Errorf("%s to a full Redis: %v, want unavailable: full", what, err)
		}
	}
}

// TestByteBudget: past its byte budget (90% of maxmemory by default) the
// store refuses new jobs with 503 naming the budget, before Redis refuses
// writes (which would fail finishes too); Stats tells the bytes stored.
func TestByteBudget(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL, "redis://"), "/0")})
	defer rdb.Close()
	if err := rdb.ConfigSet(t.Context(), "maxmemory", "8mb").Err(); err != nil {
		t.Fatal(err)
	}
	s := open(t, srv.URL, rand.Text()+":", 0, 0)
	input := strings.Repeat("x", 256<<10)
	var err error
	for i := 0; err == nil; i++ {
		if i > 100 {
			t.Fatal("25 MiB of jobs in a Redis of 8 MiB")
		}
		err = s.Submit(t.Context(), &onpyrunner.Job{ID: rand.Text(), Language: "python", Code: "pass", Input: input})
		time.Sleep(time.Second / 20) // the memory read is a second old at most
	}
	if e, ok := errors.AsType[*onpyrunner.Error](err); !ok || e.Code != onpyrunner.CodeUnavailable || !strings.Contains(e.Message, "byte budget") {
		t.Fatalf("a submission past the budget: %v, want unavailable: byte budget", err)
	}
	// Redis's used memory, which may pass maxmemory by the last write it
	// took (it checks before a command, not after) and by the query
	// buffers of 256 KiB inputs, which it shrinks only now and then.
	if st, err := s.Stats(t.Context()); err != nil || st.StoredBytes < 4<<20 || st.StoredBytes > 9<<20 {
		t.Errorf("Stats: %+v %v, want between 4 and 9 MiB stored (maxmemory 8 MiB)", st, err)
	}
}
