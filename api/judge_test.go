package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

const aPlusB = "a, b = map(int, input().split())\nprint(a + b)\n"

// TestJudge: a job's tests run one after another with the job's limits,
// each judged, live and in the result.
func TestJudge(t *testing.T) {
	srv := newServer(t, serverOpts{})
	c := srv.Client
	code := "import time\na, b = map(int, input().split())\nif a < 0:\n    while True: pass\nprint(a + b)\n"
	tests := []onpyrunner.Test{
		{Name: "one", Input: "1 2\n", ExpectedOutput: "3\n"},
		{Input: "2 2\n", ExpectedOutput: "5\n"},
		{Name: "tle", Input: "-1 0\n", ExpectedOutput: "-1\n"},
		{Name: "after", Input: "10 20\n", ExpectedOutput: "30   \n\n"},
	}
	j, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code, Tests: tests, Limits: &api.RequestLimits{TimeMs: ptr[int64](300)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	end, err := c.Events(ctx, j.ID, 0, func(ev client.Event) error {
		if ev.Type == "test" {
			live = append(live, ev.Test.Name+" "+string(ev.Test.Judgement))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := end.Result
	if end.Status != onpyrunner.Completed || r == nil || *r.Passed != 2 || *r.Total != 4 || r.FirstFailure != "2" ||
		r.Tests[1].Judgement != onpyrunner.WrongAnswer || *r.Tests[1].Diff != (onpyrunner.Diff{Line: 1, Expected: "5", Got: "4"}) ||
		r.Tests[2].Judgement != onpyrunner.Judgement(onpyrunner.TimeLimit) || r.Tests[3].Judgement != onpyrunner.Accepted ||
		r.Stdout != "4\n" || r.TimeMs < 300 {
		t.Fatalf("%+v", r)
	}
	if strings.Join(live, ",") != "one accepted,2 wrong_answer,tle time_limit,after accepted" {
		t.Errorf("live: %q", live)
	}
	// The job object leaves the tests out unless asked for the source.
	if got, _ := c.Get(t.Context(), j.ID, 0); got.Tests != nil {
		t.Errorf("the job shows its tests: %+v", got.Tests)
	}

	t.Run("stop on first failure", func(t *testing.T) {
		j := submit(t, c, api.SubmitRequest{Code: ptr(aPlusB), StopOnFirstFailure: true, Compare: "tokens",
			Tests: []onpyrunner.Test{{Input: "1 1\n", ExpectedOutput: "3"}, {Input: "1 2\n", ExpectedOutput: "3"}}}, 30*time.Second)
		if r := j.Result; r == nil || *r.Passed != 0 || r.Tests[1].Judgement != onpyrunner.Skipped {
			t.Fatalf("%+v", j.Result)
		}
	})
	t.Run("float", func(t *testing.T) {
		j := submit(t, c, api.SubmitRequest{Code: ptr("print(1/3)"), Compare: "float", Tolerance: ptr(1e-3),
			Tests: []onpyrunner.Test{{ExpectedOutput: "0.3333"}, {ExpectedOutput: "0.34"}}}, 30*time.Second)
		if r := j.Result; r == nil || *r.Passed != 1 || r.Tests[1].Judgement != onpyrunner.WrongAnswer {
			t.Fatalf("%+v", j.Result)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			req  api.SubmitRequest
			word string
		}{
			{api.SubmitRequest{Code: ptr("1"), Compare: "fuzzy", Tests: tests}, "compare"},
			{api.SubmitRequest{Code: ptr("1"), Compare: "lines"}, "go with tests"},
			{api.SubmitRequest{Code: ptr("1"), Tolerance: ptr(-1.0), Tests: tests}, "tolerance"},
			{api.SubmitRequest{Code: ptr("1"), Input: "x", Tests: tests}, "input"},
			{api.SubmitRequest{Code: ptr("1"), Interactive: true, Tests: tests}, "interactive"},
			{api.SubmitRequest{Code: ptr("1"), Tests: make([]onpyrunner.Test, 101)}, "cap of 100"},
		} {
			_, err := srv.Client.Submit(t.Context(), c.req, 0)
			if ce, ok := err.(*client.Error); !ok || ce.StatusCode != 400 || !strings.Contains(ce.Message, c.word) {
				t.Errorf("%+v: %v, want a 400 about %s", c.req, err, c.word)
			}
		}
	})
}

// BenchmarkTests: 100 tests of a+b in one job, against 100 jobs of one
// test each, submitted at once and waited for (both slots busy), and one
// after another; the wall times (the sums over the iterations, which
// alternate the three) and the ratios.
func BenchmarkTests(b *testing.B) {
	srv := newServer(b, serverOpts{})
	c := srv.Client
	var tests []onpyrunner.Test
	for i := range 100 {
		tests = append(tests, onpyrunner.Test{Input: fmt.Sprintf("%d %d\n", i, i), ExpectedOutput: fmt.Sprintf("%d\n", 2*i)})
	}
	var one, many, inTurn time.Duration
	for b.Loop() {
		t0 := time.Now()
		j := submit(b, c, api.SubmitRequest{Code: ptr(aPlusB), Tests: tests}, time.Minute)
		one += time.Since(t0)
		if j.Result == nil || *j.Result.Passed != 100 {
			b.Fatalf("%+v", j.Result)
		}
		t0 = time.Now()
		ids := make([]string, len(tests))
		for i, tc := range tests {
			ids[i] = submit(b, c, api.SubmitRequest{Code: ptr(aPlusB), Input: tc.Input}, 0).ID
		}
		for _, id := range ids {
			if j := wait(b, c, id); j.Result == nil || j.Result.Verdict != onpyrunner.OK {
				b.Fatalf("%+v", j)
			}
		}
		many += time.Since(t0)
		// And one after another, each submitted once the last has ended.
		t0 = time.Now()
		for _, tc := range tests {
			if j := submit(b, c, api.SubmitRequest{Code: ptr(aPlusB), Input: tc.Input}, time.Minute); j.Result == nil {
				b.Fatalf("%+v", j)
			}
		}
		inTurn += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(one.Seconds()/n, "one-job-s")
	b.ReportMetric(many.Seconds()/n, "100-jobs-at-once-s")
	b.ReportMetric(inTurn.Seconds()/n, "100-jobs-in-turn-s")
	b.ReportMetric(one.Seconds()/many.Seconds(), "ratio-at-once")
	b.ReportMetric(one.Seconds()/inTurn.Seconds(), "ratio-in-turn")
	b.ReportMetric(float64(one.Microseconds())/n/100/1000, "ms/test")
}
