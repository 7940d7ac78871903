package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

// TestBadInput sends what a careless or hostile client might, and checks
// the status, the error code and that the message names the problem.
func TestBadInput(t *testing.T) {
	s := newServer(t, serverOpts{api: api.Config{MaxCodeBytes: 1000, MaxInputBytes: 2000}, fake: true})
	big := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     onpyrunner.Code
		mention                  string
	}{
		{"malformed JSON", "POST", "/api/jobs", `{"code": "print(1)"`, 400, onpyrunner.CodeInvalid, "JSON"},
		{"not an object", "POST", "/api/jobs", `"print(1)"`, 400, onpyrunner.CodeInvalid, "the request body: want a JSON object, got a JSON string"},
		{"empty body", "POST", "/api/jobs", ``, 400, onpyrunner.CodeInvalid, "JSON"},
		{"two values", "POST", "/api/jobs", `{"code": "1"} {"code": "2"}`, 400, onpyrunner.CodeInvalid, "more than one"},
		{"unknown field", "POST", "/api/jobs", `{"code": "print(1)", "cmd": "rm"}`, 400, onpyrunner.CodeInvalid, `"cmd"`},
		{"unknown limit", "POST", "/api/jobs", `{"code": "1", "limits": {"cpu": 5}}`, 400, onpyrunner.CodeInvalid, `"limits.cpu"`},
		{"code missing", "POST", "/api/jobs", `{"input": "x"}`, 400, onpyrunner.CodeInvalid, "code"},
		{"code a number", "POST", "/api/jobs", `{"code": 5}`, 400, onpyrunner.CodeInvalid, "code: want a string, got a JSON number"},
		{"double slash", "POST", "//api/jobs", `{"code": "1"}`, 404, onpyrunner.CodeNotFound, "no such endpoint"},
		{"dot dot", "GET", "/api/jobs/../../readyz", "", 404, onpyrunner.CodeNotFound, "no such endpoint"},
		{"memory a string", "POST", "/api/jobs", `{"code": "1", "limits": {"memoryMB": "5"}}`, 400, onpyrunner.CodeInvalid, "limits.memoryMB: want a whole number, got a JSON string"},
		{"limit a string", "POST", "/api/jobs", `{"code": "1", "limits": {"timeMs": "fast"}}`, 400, onpyrunner.CodeInvalid, "limits.timeMs"},
		{"limit fractional", "POST", "/api/jobs", `{"code": "1", "limits": {"memoryMB": 1.5}}`, 400, onpyrunner.CodeInvalid, "limits.memoryMB"},
		{"limit over max", "POST", "/api/jobs", `{"code": "1", "limits": {"timeMs": 999999}}`, 400, onpyrunner.CodeInvalid, "limits.timeMs"},
		{"limit zero", "POST", "/api/jobs", `{"code": "1", "limits": {"processes": 0}}`, 400, onpyrunner.CodeInvalid, "limits.processes"},
		{"limit negative", "POST", "/api/jobs", `{"code": "1", "limits": {"wallTimeMs": -5}}`, 400, onpyrunner.CodeInvalid, "limits.wallTimeMs"},
		{"unknown language", "POST", "/api/jobs", `{"code": "1", "language": "cobol"}`, 400, onpyrunner.CodeInvalid, "cobol"},
		{"not UTF-8", "POST", "/api/jobs", "{\"code\": \"print('\xff\xfe')\"}", 400, onpyrunner.CodeInvalid, "UTF-8"},
		{"code over cap", "POST", "/api/jobs", `{"code": "` + big(1001) + `"}`, 413, onpyrunner.CodeTooLarge, "code"},
		{"input over cap", "POST", "/api/jobs", `{"code": "1", "input": "` + big(2001) + `"}`, 413, onpyrunner.CodeTooLarge, "input"},
		{"body over cap", "POST", "/api/jobs", `{"code": "` + big(100<<10) + `"}`, 413, onpyrunner.CodeTooLarge, "body"},
		{"bad wait", "POST", "/api/jobs?wait=soon", `{"code": "1"}`, 400, onpyrunner.CodeInvalid, "wait"},
		{"negative wait", "GET", "/api/jobs/X?wait=-1s", ``, 400, onpyrunner.CodeInvalid, "wait"},
		{"unknown job", "GET", "/api/jobs/NOSUCHJOB", ``, 404, onpyrunner.CodeNotFound, "NOSUCHJOB"},
		{"unknown job cancel", "DELETE", "/api/jobs/NOSUCHJOB", ``, 404, onpyrunner.CodeNotFound, "NOSUCHJOB"},
		{"unknown job events", "GET", "/api/jobs/NOSUCHJOB/events", ``, 404, onpyrunner.CodeNotFound, "NOSUCHJOB"},
		{"bad after", "GET", "/api/jobs/X/events?after=x", ``, 400, onpyrunner.CodeInvalid, "after"},
		{"unknown endpoint", "GET", "/api/nothing", ``, 404, onpyrunner.CodeNotFound, "/api/nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct{ Error onpyrunner.Error }
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("status %d, body %q is not the JSON error", resp.StatusCode, b)
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code {
				t.Fatalf("got %d %s (%q), want %d %s", resp.StatusCode, e.Error.Code, e.Error.Message, tc.status, tc.code)
			}
			if !strings.Contains(e.Error.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tc.mention)
			}
		})
	}
	// Nothing above was queued.
	if st, err := s.Store.Stats(t.Context()); err != nil || st.Queued+st.Running != 0 {
		t.Errorf("stats %+v %v: bad input was queued", st, err)
	}
}

// TestPartialMaxLimits: a maximum a server leaves zero is the default
// maximum, never "no maximum".
func TestPartialMaxLimits(t *testing.T) {
	s := newServer(t, serverOpts{api: api.Config{MaxLimits: onpyrunner.Limits{TimeMs: 5000}}, fake: true})
	_, err := s.Client.Submit(t.Context(), api.SubmitRequest{Code: ptr("1"), Limits: &api.RequestLimits{MemoryMB: ptr(int64(1000000))}}, 0)
	if ce, ok := errors.AsType[*client.Error](err); !ok || ce.StatusCode != 400 || !strings.Contains(ce.Message, "limits.memoryMB") {
		t.Errorf("memoryMB 1000000 with no memory maximum set: %v, want 400 naming limits.memoryMB", err)
	}
}

// TestRateLimit: past its burst, a client gets 429 too_many_requests.
func TestRateLimit(t *testing.T) {
	s := newServer(t, serverOpts{api: api.Config{SubmitRate: 0.001, SubmitBurst: 3}, fake: true})
	for i := range 5 {
		_, err := s.Client.Submit(t.Context(), api.SubmitRequest{Code: ptr("pass")}, 0)
		ce, limited := errors.AsType[*client.Error](err)
		switch {
		case i < 3 && err != nil:
			t.Fatalf("submission %d within the burst: %v", i, err)
		case i >= 3 && (!limited || ce.StatusCode != 429 || ce.Code != onpyrunner.CodeTooMany):
			t.Fatalf("submission %d past the burst: %v, want 429", i, err)
		}
	}
}

// TestOpenAPIForBrowsers: the page's "API" link shows the document in the
// browser rather than downloading it; tools still get YAML.
func TestOpenAPIForBrowsers(t *testing.T) {
	s := newServer(t, serverOpts{fake: true})
	for accept, want := range map[string]string{"text/html,application/xhtml+xml,*/*;q=0.8": "text/plain; charset=utf-8", "": "application/yaml"} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/api/openapi.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != want || !strings.HasPrefix(string(b), "openapi:") {
			t.Errorf("Accept %q: %s, %.20q; want %s and the document", accept, got, b, want)
		}
	}
}

// TestRateLimitBehindProxy: from a trusted proxy, each client of
// X-Forwarded-For has a bucket of its own, and addresses it wrote left of
// its own do not buy it another; from any other peer the header is ignored.
func TestRateLimitBehindProxy(t *testing.T) {
	post := func(url, xff string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", url+"/api/jobs", strings.NewReader(`{"code":"pass"}`))
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	limits := api.Config{SubmitRate: 0.001, SubmitBurst: 1}
	behind := limits
	behind.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	proxied := newServer(t, serverOpts{api: behind, fake: true})
	for i, tc := range []struct {
		xff  string
		want int
	}{
		{"203.0.113.1", 202},
		{"203.0.113.2", 202},               // another client
		{"203.0.113.1", 429},               // the first again
		{"198.51.100.9, 203.0.113.1", 429}, // a forged hop left of its own
		{"203.0.113.3, 127.0.0.5", 202},    // through a second trusted proxy
	} {
		if got := post(proxied.URL, tc.xff); got != tc.want {
			t.Errorf("%d: from %q: %d, want %d", i, tc.xff, got, tc.want)
		}
	}
	direct := newServer(t, serverOpts{api: limits, fake: true})
	if a, b := post(direct.URL, "203.0.113.1"), post(direct.URL, "203.0.113.2"); a != 202 || b != 429 {
		t.Errorf("X-Forwarded-For from an untrusted peer: %d, %d; want 202, 429 (one client)", a, b)
	}
}
