package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/metrics"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

type apiCase struct {
	name string
	// invalid: the request breaks the document on purpose.
	invalid bool
	run     func(t *testing.T, ctx context.Context)
}

// TestOpenAPIConformance runs real requests against real servers (the
// sandbox, the SQLite store) and checks every request and response against
// openapi.yaml.
func TestOpenAPIConformance(t *testing.T) {
	doc, raw := loadSpec(t)
	tr := &http.Transport{}
	c := &conformance{
		v:     newSpecValidator(t, doc),
		hc:    &http.Client{Transport: caseTransport{tr}},
		cases: map[string]bool{},
	}
	nCases, ran := 0, false
	// Registered first, this runs last: after every server has closed.
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		c.mu.Lock()
		all := len(c.cases) == nCases
		c.mu.Unlock()
		if !ran || !all {
			return // skipped, some cases only (-run), or failed before the cases (and said why)
		}
		// Every case sends a request; "events live", "queue submit running
		// job" and "cancel running job" send two or more.
		c.check(t, nCases+3)
	})

	const maxCode, maxInput = 200, 1000
	var statsStore atomic.Pointer[sqlite.Store]
	m := metrics.New(func(ctx context.Context) (onpyrunner.Stats, error) {
		if s := statsStore.Load(); s != nil {
			return s.Stats(ctx)
		}
		return onpyrunner.Stats{}, nil
	})
	ts := newServer(t, serverOpts{
		api:  api.Config{MaxCodeBytes: maxCode, MaxInputBytes: maxInput, Metrics: m.Handler()},
		wrap: c.v.wrap,
	})
	statsStore.Store(ts.Store)
	// qs has one slot and room for one queued job.
	qs := newServer(t, serverOpts{slots: 1, store: sqlite.Config{QueueCap: 1}, wrap: c.v.wrap})
	// rs takes one submission per client, then answers 429.
	rs := newServer(t, serverOpts{api: api.Config{SubmitRate: 0.001, SubmitBurst: 1}, wrap: c.v.wrap})
	// ds is shutting down: readyz says 503.
	dstore, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dh := api.New(dstore, api.Config{})
	dh.Drain()
	ds := httptest.NewServer(c.v.wrap(dh))
	t.Cleanup(func() {
		ds.Close()
		dstore.Close()
	})

	cl := client.New(ts.URL, c.hc)
	qcl := client.New(qs.URL, c.hc)
	var helloID, streamID, slowID, runningID, queuedID string

	submit := func(t *testing.T, ctx context.Context, base, query, body string) (*http.Response, *onpyrunner.Job) {
		t.Helper()
		resp, b := c.do(t, ctx, "POST", base+"/api/jobs"+query, body)
		var j onpyrunner.Job
		if resp.StatusCode < 300 {
			if err := json.Unmarshal(b, &j); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
		}
		return resp, &j
	}
	// wantError checks an error answer: status, code and words in the message.
	wantError := func(t *testing.T, resp *http.Response, body []byte, status int, code onpyrunner.Code, words string) {
		t.Helper()
		var e struct{ Error onpyrunner.Error }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
		}
		if resp.StatusCode != status || e.Error.Code != code || !strings.Contains(e.Error.Message, words) {
			t.Errorf("answer %d %s, want %d %s with %q", resp.StatusCode, body, status, code, words)
		}
	}
	wantClientError := func(t *testing.T, err error, status int, code onpyrunner.Code) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.StatusCode != status || ce.Code != code {
			t.Errorf("error %v, want %d %s", err, status, code)
		}
	}
	postError := func(query, body string, status int, code onpyrunner.Code, words string) func(*testing.T, context.Context) {
		return func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "POST", ts.URL+"/api/jobs"+query, body)
			wantError(t, resp, b, status, code, words)
		}
	}
	getError := func(path string, status int, code onpyrunner.Code, words string) func(*testing.T, context.Context) {
		return func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+path, "")
			wantError(t, resp, b, status, code, words)
		}
	}

	// Cases that need a job another case makes make it themselves when
	// they run alone (-run): each case stands alone, and a whole run sends
	// what it always did.
	need := func(id *string, make func() string) string {
		if *id == "" {
			*id = make()
		}
		return *id
	}
	hello := func(t *testing.T, ctx context.Context) string {
		return need(&helloID, func() string {
			_, j := submit(t, ctx, ts.URL, "?wait=10s", `{"code": "print(input())", "input": "hello\n"}`)
			return j.ID
		})
	}
	const streamCode = "import sys, time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)\nprint('bye', file=sys.stderr)"
	stream := func(t *testing.T, ctx context.Context) string {
		return need(&streamID, func() string {
			code := streamCode
			j, err := cl.Submit(ctx, api.SubmitRequest{Code: &code}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return j.ID
		})
	}
	slow := func(t *testing.T, ctx context.Context) string {
		return need(&slowID, func() string {
			_, j := submit(t, ctx, ts.URL, "", `{"code": "import time\ntime.sleep(1.5)"}`)
			return j.ID
		})
	}
	const sleeper = `{"code": "import time; time.sleep(3)", "limits": {"wallTimeMs": 5000}}`
	running := func(t *testing.T, ctx context.Context) string {
		return need(&runningID, func() string {
			resp, j := submit(t, ctx, qs.URL, "", sleeper)
			if resp.StatusCode != 202 {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				got, err := qcl.Get(ctx, j.ID, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status == onpyrunner.Running {
					return j.ID
				}
				if time.Now().After(deadline) {
					t.Fatalf("the job does not start: %+v", got)
				}
			}
		})
	}
	queued := func(t *testing.T, ctx context.Context) string {
		running(t, ctx)
		return need(&queuedID, func() string {
			resp, j := submit(t, ctx, qs.URL, "", sleeper)
			if resp.StatusCode != 202 || j.Status != onpyrunner.Queued {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			return j.ID
		})
	}
	var rateUsed string
	rateFirst := func(t *testing.T, ctx context.Context) {
		need(&rateUsed, func() string {
			resp, j := submit(t, ctx, rs.URL, "", `{"code": "pass"}`)
			if resp.StatusCode != 202 {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			return j.ID
		})
	}

	cases := []apiCase{
		{name: "runtimes", run: func(t *testing.T, ctx context.Context) {
			rt, err := cl.Runtimes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rt.Default != "python" || rt.Runtimes[0].Language != "python" || rt.MaxCodeBytes != maxCode || rt.MaxInputBytes != maxInput {
				t.Errorf("runtimes %+v", rt)
			}
		}},
		{name: "healthz", run: func(t *testing.T, ctx context.Context) {
			if resp, b := c.do(t, ctx, "GET", ts.URL+"/healthz", ""); resp.StatusCode != 200 {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		}},
		{name: "readyz", run: func(t *testing.T, ctx context.Context) {
			if resp, b := c.do(t, ctx, "GET", ts.URL+"/readyz", ""); resp.StatusCode != 200 {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		}},
		{name: "readyz draining", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ds.URL+"/readyz", "")
			wantError(t, resp, b, 503, onpyrunner.CodeUnavailable, "shutting down")
			if resp.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}},
		{name: "submit draining", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "POST", ds.URL+"/api/jobs", `{"code":"print(1)"}`)
			wantError(t, resp, b, 503, onpyrunner.CodeUnavailable, "shutting down")
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Location") != "" {
				t.Errorf("Retry-After %q, Location %q", resp.Header.Get("Retry-After"), resp.Header.Get("Location"))
			}
		}},
		{name: "metrics", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/metrics", "")
			if resp.StatusCode != 200 || !bytes.Contains(b, []byte("onpyrunner_queue_depth")) {
				t.Errorf("%d %.200s", resp.StatusCode, b)
			}
		}},
		{name: "openapi.yaml", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/openapi.yaml", "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
				t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !bytes.Equal(b, raw) {
				t.Errorf("GET /api/openapi.yaml serves %d bytes that are not openapi.yaml (%d bytes)", len(b), len(raw))
			}
		}},
		{name: "index", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/", "")
			if resp.StatusCode != 200 || !bytes.Contains(b, []byte("/api/openapi.yaml")) {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		}},
		{name: "submit", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, ts.URL, "", `{"code": "print(input())", "input": "hello\n"}`)
			if resp.StatusCode != 202 || j.Status != onpyrunner.Queued || resp.Header.Get("Location") != "/api/jobs/"+j.ID {
				t.Fatalf("%d %+v Location %q", resp.StatusCode, j, resp.Header.Get("Location"))
			}
			if j.Code != "" || j.Input != "" {
				t.Errorf("the answer shows the source: %+v", j)
			}
			helloID = j.ID
		}},
		{name: "get wait include source", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/jobs/"+hello(t, ctx)+"?wait=10s&include=source", "")
			var j onpyrunner.Job
			if err := json.Unmarshal(b, &j); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if j.Status != onpyrunner.Completed || j.Result == nil || j.Result.Stdout != "hello\n" ||
				j.Code != "print(input())" || j.Input != "hello\n" || j.StartedAt == nil || j.FinishedAt == nil {
				t.Errorf("%s", b)
			}
		}},
		{name: "get", run: func(t *testing.T, ctx context.Context) {
			j, err := cl.Get(ctx, hello(t, ctx), 0)
			if err != nil || j.Status != onpyrunner.Completed || j.Code != "" {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "submit wait", run: func(t *testing.T, ctx context.Context) {
			code := "print(sum(range(10)))"
			lim := int64(3000)
			j, err := cl.Submit(ctx, api.SubmitRequest{Code: &code, Language: "python",
				Limits: &api.RequestLimits{WallTimeMs: &lim}}, 10*time.Second)
			if err != nil || j.Status != onpyrunner.Completed || j.Result.Verdict != onpyrunner.OK ||
				j.Result.Stdout != "45\n" || j.Limits.WallTimeMs != lim {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "submit wait include source", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, ts.URL, "?wait=10&include=source",
				`{"code": "print(1)", "limits": {"timeMs": 1000, "wallTimeMs": 3000, "memoryMB": 64, "outputKB": 16, "processes": 8}}`)
			if resp.StatusCode != 200 || j.Status != onpyrunner.Completed || j.Code != "print(1)" ||
				j.Limits.MemoryMB != 64 || j.Limits.StderrKB != 16 || !strings.HasPrefix(resp.Header.Get("Location"), "/api/jobs/") {
				t.Errorf("%d %+v", resp.StatusCode, j)
			}
		}},
		{name: "submit null fields", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, ts.URL, "", `{"code": "print(2)", "input": null, "language": null, "limits": {"timeMs": null}}`)
			if resp.StatusCode != 202 || j.Language != "python" || j.Limits.TimeMs != onpyrunner.DefaultLimits.TimeMs {
				t.Errorf("%d %+v", resp.StatusCode, j)
			}
		}},
		{name: "submit runtime error", run: func(t *testing.T, ctx context.Context) {
			code := "import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)"
			j, err := cl.Submit(ctx, api.SubmitRequest{Code: &code}, 10*time.Second)
			if err != nil || j.Status != onpyrunner.Completed || j.Result.Verdict != onpyrunner.RuntimeError ||
				j.Result.ExitCode != 3 || j.Result.Stderr != "oops\n" {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "submit wait runs out", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, ts.URL, "?wait=100ms", `{"code": "import time\ntime.sleep(1.5)"}`)
			if resp.StatusCode != 200 || j.Status.Final() {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			slowID = j.ID
		}},
		{name: "get wait runs out", run: func(t *testing.T, ctx context.Context) {
			j, err := cl.Get(ctx, slow(t, ctx), 50*time.Millisecond)
			if err != nil || j.Status.Final() {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "events live", run: func(t *testing.T, ctx context.Context) {
			code := streamCode
			j, err := cl.Submit(ctx, api.SubmitRequest{Code: &code}, 0)
			if err != nil {
				t.Fatal(err)
			}
			streamID = j.ID
			var types []string
			var stdout strings.Builder
			ids := 0
			end, err := cl.Events(ctx, j.ID, 0, func(ev client.Event) error {
				types = append(types, ev.Type)
				if ev.ID > 0 {
					ids++
				}
				if ev.Type == "stdout" {
					stdout.WriteString(ev.Text)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if end.Status != onpyrunner.Completed || stdout.String() != "0\n1\n2\n" || ids == 0 ||
				!slices.Contains(types, "status") || !slices.Contains(types, "stderr") {
				t.Errorf("events %q (%d with ids), stdout %q, end %+v", types, ids, stdout.String(), end)
			}
		}},
		{name: "events after", run: func(t *testing.T, ctx context.Context) {
			end, err := cl.Events(ctx, stream(t, ctx), 2, func(ev client.Event) error {
				if ev.ID != 0 && ev.ID <= 2 {
					return fmt.Errorf("event %d after 2", ev.ID)
				}
				return nil
			})
			if err != nil || end.Status != onpyrunner.Completed {
				t.Errorf("%+v %v", end, err)
			}
		}},
		{name: "events Last-Event-ID", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/jobs/"+hello(t, ctx)+"/events", "", "Last-Event-ID", "1", "Accept", "text/event-stream")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || !bytes.Contains(b, []byte("event: result")) {
				t.Errorf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}},
		{name: "events bad after", invalid: true, run: getError("/api/jobs/ABCDEFGHIJKLMNOPQRSTUVWXYZ/events?after=soon", 400, onpyrunner.CodeInvalid, "after")},
		{name: "attach", run: func(t *testing.T, ctx context.Context) {
			_, j := submit(t, ctx, ts.URL, "", `{"code":"print(input('? '))","interactive":true}`)
			a, err := cl.Attach(ctx, j.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Stdin(ctx, "x\n"); err != nil {
				t.Fatal(err)
			}
			for {
				f, err := a.Next(ctx)
				if err != nil {
					t.Fatalf("no result: %v", err)
				}
				if f.Type == "result" {
					if f.Job.Result == nil || f.Job.Result.Stdout != "? x\n" {
						t.Errorf("%+v", f.Job)
					}
					return
				}
			}
		}},
		{name: "batch", run: func(t *testing.T, ctx context.Context) {
			b, err := cl.SubmitBatch(ctx, []api.SubmitRequest{{Code: ptr("print(1)")}, {Code: ptr("print(2)")}}, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.Batch(ctx, b.BatchID, 30*time.Second)
			if err != nil || len(got.Jobs) != 2 || got.Jobs[1].Result == nil || got.Jobs[1].Result.Stdout != "2\n" {
				t.Errorf("%+v %v", got, err)
			}
		}},
		{name: "batch bad job", invalid: true, run: func(t *testing.T, ctx context.Context) {
			_, err := cl.SubmitBatch(ctx, []api.SubmitRequest{{Code: ptr("print(1)")}, {}}, "")
			wantClientError(t, err, 400, onpyrunner.CodeInvalid)
		}},
		{name: "batch unknown", run: func(t *testing.T, ctx context.Context) {
			_, err := cl.Batch(ctx, "NOSUCHBATCH", 0)
			wantClientError(t, err, 404, onpyrunner.CodeNotFound)
		}},
		{name: "attach without upgrade", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/jobs/"+hello(t, ctx)+"/attach", "")
			wantError(t, resp, b, 400, onpyrunner.CodeInvalid, "WebSocket")
		}},
		{name: "attach unknown job", run: func(t *testing.T, ctx context.Context) {
			_, err := cl.Attach(ctx, "NOSUCHJOB", true)
			wantClientError(t, err, 404, onpyrunner.CodeNotFound)
		}},
		{name: "events unknown job", run: func(t *testing.T, ctx context.Context) {
			_, err := cl.Events(ctx, "NOSUCHJOB", 0, func(client.Event) error { return nil })
			wantClientError(t, err, 404, onpyrunner.CodeNotFound)
		}},
		{name: "get unknown job", run: func(t *testing.T, ctx context.Context) {
			_, err := cl.Get(ctx, "NOSUCHJOB", 0)
			wantClientError(t, err, 404, onpyrunner.CodeNotFound)
		}},
		{name: "get wait unknown job", run: getError("/api/jobs/NOSUCHJOB?wait=1s", 404, onpyrunner.CodeNotFound, "")},
		{name: "cancel unknown job", run: func(t *testing.T, ctx context.Context) {
			_, err := cl.Cancel(ctx, "NOSUCHJOB")
			wantClientError(t, err, 404, onpyrunner.CodeNotFound)
		}},
		{name: "cancel finished job", run: func(t *testing.T, ctx context.Context) {
			j, err := cl.Cancel(ctx, hello(t, ctx))
			if err != nil || j.Status != onpyrunner.Completed || j.Result == nil {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "get bad wait", invalid: true, run: getError("/api/jobs/"+"ABCDEFGHIJKLMNOPQRSTUVWXYZ?wait=soon", 400, onpyrunner.CodeInvalid, "wait")},
		{name: "get negative wait", invalid: true, run: getError("/api/jobs/"+"ABCDEFGHIJKLMNOPQRSTUVWXYZ?wait=-1s", 400, onpyrunner.CodeInvalid, "wait")},
		{name: "submit bad wait", invalid: true, run: postError("?wait=forever", `{"code": "print(1)"}`, 400, onpyrunner.CodeInvalid, "wait")},
		{name: "submit malformed JSON", invalid: true, run: postError("", `{"code": "print(1)"`, 400, onpyrunner.CodeInvalid, "malformed JSON")},
		// A schema cannot say "one JSON value": the document lets this through.
		{name: "submit two values", run: postError("", `{"code": "print(1)"} {}`, 400, onpyrunner.CodeInvalid, "more than one")},
		{name: "submit unknown field", invalid: true, run: postError("", `{"code": "print(1)", "stdin": "x"}`, 400, onpyrunner.CodeInvalid, "stdin")},
		{name: "submit unknown limit", invalid: true, run: postError("", `{"code": "print(1)", "limits": {"cpuMs": 5}}`, 400, onpyrunner.CodeInvalid, "cpuMs")},
		{name: "submit without code", invalid: true, run: postError("", `{"input": "x"}`, 400, onpyrunner.CodeInvalid, "code")},
		{name: "submit code of wrong type", invalid: true, run: postError("", `{"code": 42}`, 400, onpyrunner.CodeInvalid, "code")},
		{name: "submit bad limits", invalid: true, run: postError("", `{"code": "print(1)", "limits": {"timeMs": 0}}`, 400, onpyrunner.CodeInvalid, "limits.timeMs")},
		{name: "submit limit of wrong type", invalid: true, run: postError("", `{"code": "print(1)", "limits": {"memoryMB": "lots"}}`, 400, onpyrunner.CodeInvalid, "memoryMB")},
		{name: "submit limit over maximum", run: postError("", `{"code": "print(1)", "limits": {"timeMs": 999999}}`, 400, onpyrunner.CodeInvalid, "maximum")},
		{name: "submit unknown language", run: postError("", `{"code": "print(1)", "language": "cobol"}`, 400, onpyrunner.CodeInvalid, "cobol")},
		{name: "submit code too large", run: postError("", `{"code": "`+strings.Repeat("#", maxCode+1)+`"}`, 413, onpyrunner.CodeTooLarge, "code")},
		{name: "submit input too large", run: postError("", `{"code": "print(1)", "input": "`+strings.Repeat("x", maxInput+1)+`"}`, 413, onpyrunner.CodeTooLarge, "input")},

		// The one-slot server with room for one queued job.
		{name: "queue submit running job", run: func(t *testing.T, ctx context.Context) { running(t, ctx) }},
		{name: "queue submit queued job", run: func(t *testing.T, ctx context.Context) { queued(t, ctx) }},
		{name: "queue full", run: func(t *testing.T, ctx context.Context) {
			queued(t, ctx)
			resp, b := c.do(t, ctx, "POST", qs.URL+"/api/jobs", `{"code": "print(1)"}`)
			wantError(t, resp, b, 503, onpyrunner.CodeQueueFull, "queue")
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}},
		{name: "rate limit first submission", run: func(t *testing.T, ctx context.Context) { rateFirst(t, ctx) }},
		{name: "rate limited", run: func(t *testing.T, ctx context.Context) {
			rateFirst(t, ctx)
			resp, b := c.do(t, ctx, "POST", rs.URL+"/api/jobs", `{"code": "pass"}`)
			wantError(t, resp, b, 429, onpyrunner.CodeTooMany, "slow down")
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}},
		{name: "cancel queued job", run: func(t *testing.T, ctx context.Context) {
			j, err := qcl.Cancel(ctx, queued(t, ctx))
			if err != nil || j.Status != onpyrunner.Canceled || j.StartedAt != nil || j.Result != nil {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "cancel running job", run: func(t *testing.T, ctx context.Context) {
			id := running(t, ctx)
			j, err := qcl.Cancel(ctx, id)
			if err != nil || j.Status != onpyrunner.Canceled {
				t.Fatalf("%+v %v", j, err)
			}
			j, err = qcl.Get(ctx, id, 5*time.Second)
			if err != nil || j.Status != onpyrunner.Canceled || j.FinishedAt == nil {
				t.Errorf("%+v %v", j, err)
			}
		}},
	}
	nCases = len(cases)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, c.start(t, tc.invalid))
		})
	}
	ran = true
}
