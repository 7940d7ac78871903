package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/metrics"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// TestJobsTotalFromStore: jobs_total counts what the store counted where
// jobs ended (a cancel, a finish), whichever process ended them: a
// Metrics that saw no job of its own (an API process) exports it too.
func TestJobsTotalFromStore(t *testing.T) {
	store, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	for _, id := range []string{"A", "B"} {
		if err := store.Submit(ctx, &onpyrunner.Job{ID: id, Language: "python", Code: "pass"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Cancel(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	j, err := store.Claim(cctx)
	if err != nil || j == nil {
		t.Fatalf("Claim: %v %v", j, err)
	}
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	if err := store.Finish(ctx, j); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(store.Stats) // heard of no job
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`onpyrunner_jobs_total{status="canceled",verdict=""} 1`,
		`onpyrunner_jobs_total{status="completed",verdict="ok"} 1`,
		`onpyrunner_queue_depth 0`,
		`onpyrunner_jobs_running 0`,
		`onpyrunner_store_bytes `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
}
