package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

func TestBatches(t *testing.T) {
	srv := newServer(t, serverOpts{api: api.Config{MaxBatch: 5}})
	c := srv.Client
	jobs := []api.SubmitRequest{{Code: ptr("print(1)")}, {Code: ptr("print(input())"), Input: "two\n"},
		{Code: ptr(aPlusB), Tests: []onpyrunner.Test{{Input: "1 1\n", ExpectedOutput: "2\n"}}}}
	b, err := c.SubmitBatch(t.Context(), jobs, "")
	if err != nil || len(b.JobIDs) != 3 || b.BatchID == "" {
		t.Fatalf("%+v %v", b, err)
	}
	got, err := c.Batch(t.Context(), b.BatchID, 30*time.Second)
	if err != nil || len(got.Jobs) != 3 {
		t.Fatalf("%+v %v", got, err)
	}
	for i, j := range got.Jobs {
		if j.ID != b.JobIDs[i] || j.Status != onpyrunner.Completed {
			t.Fatalf("job %d: %+v", i, j)
		}
	}
	if got.Jobs[1].Result.Stdout != "two\n" || *got.Jobs[2].Result.Passed != 1 {
		t.Errorf("%+v %+v", got.Jobs[1].Result, got.Jobs[2].Result)
	}

	t.Run("all or nothing", func(t *testing.T) {
		before, _ := srv.Store.Stats(t.Context())
		_, err := c.SubmitBatch(t.Context(), []api.SubmitRequest{{Code: ptr("print(1)")}, {Code: ptr("1"), Language: "cobol"}}, "")
		if ce, ok := err.(*client.Error); !ok || ce.StatusCode != 400 || !strings.HasPrefix(ce.Message, "jobs[1]: language") {
			t.Fatalf("%v", err)
		}
		after, _ := srv.Store.Stats(t.Context())
		if after.Queued+after.Running > before.Queued+before.Running {
			t.Errorf("a refused batch queued jobs: %+v -> %+v", before, after)
		}
	})
	t.Run("cap", func(t *testing.T) {
		_, err := c.SubmitBatch(t.Context(), make([]api.SubmitRequest, 6), "")
		if ce, ok := err.(*client.Error); !ok || ce.StatusCode != 400 || !strings.Contains(ce.Message, "cap of 5") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := c.Batch(t.Context(), "NOSUCHBATCH", 0); !isStatus(err, 404) {
			t.Fatalf("%v", err)
		}
	})
}
