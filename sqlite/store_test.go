package sqlite_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/backendtest"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, cfg backendtest.Config) onpyrunner.Store {
		return open(t, sqlite.Config{Dir: t.TempDir(), QueueCap: cfg.QueueCap})
	})
}

// open opens a store and closes it when the test ends (a second Close is
// harmless).
func open(t *testing.T, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func job(id string) *onpyrunner.Job {
	return &onpyrunner.Job{ID: id, Language: "python", Code: "print(input())", Input: "héllo\x00\n",
		Limits: onpyrunner.Limits{TimeMs: 1000, MemoryMB: 64}}
}

func submit(t *testing.T, s *sqlite.Store, id string) *onpyrunner.Job {
	t.Helper()
	j := job(id)
	if err := s.Submit(ctx(t), j); err != nil {
		t.Fatalf("Submit %s: %v", id, err)
	}
	return j
}

func claim(t *testing.T, s *sqlite.Store, id string) *onpyrunner.Job {
	t.Helper()
	j, err := s.Claim(ctx(t))
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if j.ID != id {
		t.Fatalf("Claim gave %s, want %s", j.ID, id)
	}
	return j
}

func claimNone(t *testing.T, s *sqlite.Store) {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if j, err := s.Claim(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim = %+v, %v; want nothing to claim", j, err)
	}
}

func get(t *testing.T, s *sqlite.Store, id string) *onpyrunner.Job {
	t.Helper()
	j, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return j
}

func notFound(t *testing.T, s *sqlite.Store, id string) {
	t.Helper()
	var e *onpyrunner.Error
	if _, err := s.Get(ctx(t), id); !errors.As(err, &e) || e.Code != onpyrunner.CodeNotFound {
		t.Fatalf("Get %s: %v, want CodeNotFound", id, err)
	}
}

func finish(t *testing.T, s *sqlite.Store, j *onpyrunner.Job, st onpyrunner.Status) {
	t.Helper()
	j.Status = st
	if st == onpyrunner.Completed {
		j.Result = &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "héllo\n"}
	}
	if err := s.Finish(ctx(t), j); err != nil {
		t.Fatalf("Finish %s: %v", j.ID, err)
	}
}

func wantEvents(t *testing.T, s *sqlite.Store, id string, done bool, want ...onpyrunner.Event) {
	t.Helper()
	evs, d, err := s.Events(ctx(t), id, 0)
	if err != nil || d != done || !reflect.DeepEqual(evs, want) && len(evs)+len(want) > 0 {
		t.Fatalf("Events(%s) = %v, done %v, %v; want %v, done %v", id, evs, d, err, want, done)
	}
}

func queuedEvent() onpyrunner.Event {
	return onpyrunner.Event{Seq: 1, Type: onpyrunner.StatusEvent, Data: string(onpyrunner.Queued)}
}

func TestReopen(t *testing.T) {
	cfg := sqlite.Config{Dir: t.TempDir()}
	s := open(t, cfg)
	submit(t, s, "done")
	finish(t, s, claim(t, s, "done"), onpyrunner.Completed)
	queued := submit(t, s, "queued")
	submit(t, s, "canceled")
	if _, err := s.Cancel(ctx(t), "canceled"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, cfg)
	j := get(t, s, "queued")
	if j.Status != onpyrunner.Queued || j.Code != queued.Code || j.Input != queued.Input ||
		j.Limits != queued.Limits || !j.CreatedAt.Equal(queued.CreatedAt.Truncate(time.Microsecond)) {
		t.Fatalf("after a reopen, the queued job is %+v; want %+v", j, queued)
	}
	if d := get(t, s, "done"); d.Status != onpyrunner.Completed || d.Result == nil || d.Result.Stdout != "héllo\n" {
		t.Fatalf("after a reopen, the completed job is %+v", d)
	}
	if c := get(t, s, "canceled"); c.Status != onpyrunner.Canceled {
		t.Fatalf("after a reopen, the canceled job is %+v", c)
	}
	// The queued job's live log is open again; those of ended jobs are gone.
	wantEvents(t, s, "queued", false, queuedEvent())
	wantEvents(t, s, "done", true)
	wantEvents(t, s, "canceled", true)
	if st, _ := s.Stats(ctx(t)); st.Queued != 1 || st.Running != 0 {
		t.Fatalf("Stats after a reopen = %+v, want 1 queued", st)
	}
	if c := claim(t, s, "queued"); c.Attempts != 1 {
		t.Fatalf("Claim after a reopen: attempts %d, want 1", c.Attempts)
	}
	claimNone(t, s)
}

func TestCrashRecovery(t *testing.T) {
	cfg := sqlite.Config{Dir: t.TempDir(), MaxAttempts: 2}
	s := open(t, cfg)
	submit(t, s, "dies")
	submit(t, s, "waits")
	if j := claim(t, s, "dies"); j.Status != onpyrunner.Running || j.Attempts != 1 {
		t.Fatalf("Claim = %+v, want running, attempts 1", j)
	}
	s.Close() // the process dies with the job running

	s = open(t, cfg)
	if j := get(t, s, "dies"); j.Status != onpyrunner.Queued || j.StartedAt != nil || j.Attempts != 1 {
		t.Fatalf("after a restart, a job left running is %+v; want queued again", j)
	}
	wantEvents(t, s, "dies", false, queuedEvent())
	if j := claim(t, s, "dies"); j.Attempts != 2 {
		t.Fatalf("Claim after a restart: attempts %d, want 2", j.Attempts)
	}
	s.Close() // and dies again, with MaxAttempts reached

	s = open(t, cfg)
	j := get(t, s, "dies")
	if j.Status != onpyrunner.Failed || j.Error == "" || j.FinishedAt == nil || j.Result != nil {
		t.Fatalf("after %d attempts, the job is %+v; want failed with an error", cfg.MaxAttempts, j)
	}
	t.Logf("error: %s", j.Error)
	if st, err := s.Stats(ctx(t)); err != nil || st.Ended[onpyrunner.Ending{Status: onpyrunner.Failed}] != 1 {
		t.Errorf("Stats after the job failed of its deaths: %+v %v, want 1 failed ended", st, err)
	}
	wantEvents(t, s, "dies", true)
	if w := get(t, s, "waits"); w.Status != onpyrunner.Queued || w.Attempts != 0 {
		t.Fatalf("a job never claimed is %+v after restarts; want queued", w)
	}
	claim(t, s, "waits")
	claimNone(t, s)
}

func TestExpire(t *testing.T) {
	s := open(t, sqlite.Config{Dir: t.TempDir()})
	submit(t, s, "old-completed")
	finish(t, s, claim(t, s, "old-completed"), onpyrunner.Completed)
	submit(t, s, "old-failed")
	old := claim(t, s, "old-failed")
	old.Error = "no runtime"
	finish(t, s, old, onpyrunner.Failed)
	submit(t, s, "old-canceled")
	if _, err := s.Cancel(ctx(t), "old-canceled"); err != nil {
		t.Fatal(err)
	}
	submit(t, s, "running")
	claim(t, s, "running")
	submit(t, s, "queued")
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	submit(t, s, "recent")
	// "recent" is behind "queued" in the queue: hand "queued" back after.
	q := claim(t, s, "queued")
	finish(t, s, claim(t, s, "recent"), onpyrunner.Completed)
	finish(t, s, q, onpyrunner.Queued)

	n, err := s.Expire(ctx(t), cut)
	if err != nil || n != 3 {
		t.Fatalf("Expire = %d, %v; want 3 jobs removed", n, err)
	}
	for _, id := range []string{"old-completed", "old-failed", "old-canceled"} {
		notFound(t, s, id)
	}
	for id, st := range map[string]onpyrunner.Status{
		"running": onpyrunner.Running, "queued": onpyrunner.Queued, "recent": onpyrunner.Completed,
	} {
		if j := get(t, s, id); j.Status != st {
			t.Fatalf("after Expire, %s is %s, want %s", id, j.Status, st)
		}
	}
	// A cut in the future takes every finished job, and only those.
	if n, err := s.Expire(ctx(t), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v; want 1 job removed", n, err)
	}
	notFound(t, s, "recent")
	if st, _ := s.Stats(ctx(t)); st.Queued != 1 || st.Running != 1 {
		t.Fatalf("Stats after Expire = %+v, want 1 queued, 1 running", st)
	}
	claim(t, s, "queued")
}
