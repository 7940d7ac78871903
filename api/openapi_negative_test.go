package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// TestOpenAPIRejectsWrongAnswers shows that the checks of the conformance
// test have teeth: answers that break the API's contract fail against the
// document, and the right ones pass.
func TestOpenAPIRejectsWrongAnswers(t *testing.T) {
	doc, _ := loadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const job = `{"jobId":"ABCDEFGHIJKLMNOPQRSTUVWXYZ","status":"completed","language":"python",` +
		`"limits":{"timeMs":2000,"wallTimeMs":5000,"memoryMB":128,"outputKB":64,"stderrKB":64,"processes":32,"fileSizeKB":16384,"openFiles":256},` +
		`"createdAt":"2025-01-02T03:04:05.123456Z","startedAt":"2025-01-02T03:04:05.2Z","finishedAt":"2025-01-02T03:04:06Z",` +
		`"result":{"verdict":"ok","exitCode":0,"signal":"","stdout":"hi\n","stderr":"","stdoutTruncated":false,` +
		`"stderrTruncated":false,"timeMs":9,"wallTimeMs":12,"memoryKB":8740}}`
	edit := func(old, new string) string {
		if !strings.Contains(job, old) {
			t.Fatalf("the job holds no %q", old)
		}
		return strings.Replace(job, old, new, 1)
	}
	const runtimes = `{"runtimes":[{"language":"python","version":"3.12.3","implementation":"cpython","packages":[],"default":true}],"default":"python",` +
		`"defaultLimits":{"timeMs":2000,"wallTimeMs":5000,"memoryMB":128,"outputKB":64,"processes":32},` +
		`"maxLimits":{"timeMs":10000,"wallTimeMs":30000,"memoryMB":512,"outputKB":1024,"processes":64},` +
		`"maxCodeBytes":131072,"maxInputBytes":8388608,"maxInteractiveWallTimeMs":300000,"attachTimeoutMs":30000,"webhooks":false}`
	jsonCT := map[string]string{"Content-Type": "application/json"}
	withCT := func(h map[string]string) map[string]string {
		h["Content-Type"] = "application/json"
		return h
	}
	for _, c := range []struct {
		name, method, target string
		status               int
		header               map[string]string
		body                 string
		ok                   bool
	}{
		{"job", "GET", "/api/jobs/x", 200, jsonCT, job, true},
		{"job with source", "GET", "/api/jobs/x", 200, jsonCT, edit(`"language":"python"`, `"language":"python","code":"print(1)","input":"x"`), true},
		{"queued job", "GET", "/api/jobs/x", 200, jsonCT, `{"jobId":"ABCDEFGHIJKLMNOPQRSTUVWXYZ","status":"queued","language":"python","limits":{},"createdAt":"2025-01-02T03:04:05Z"}`, true},
		{"unknown status", "GET", "/api/jobs/x", 200, jsonCT, edit(`"status":"completed"`, `"status":"done"`), false},
		{"unknown field", "GET", "/api/jobs/x", 200, jsonCT, edit(`"language":"python"`, `"language":"python","owner":"me"`), false},
		{"bad createdAt", "GET", "/api/jobs/x", 200, jsonCT, edit(`"createdAt":"2025-01-02T03:04:05.123456Z"`, `"createdAt":"yesterday"`), false},
		{"no createdAt", "GET", "/api/jobs/x", 200, jsonCT, edit(`"createdAt":"2025-01-02T03:04:05.123456Z",`, ``), false},
		{"bad jobId", "GET", "/api/jobs/x", 200, jsonCT, edit(`"ABCDEFGHIJKLMNOPQRSTUVWXYZ"`, `"abc"`), false},
		{"empty error", "GET", "/api/jobs/x", 200, jsonCT, edit(`"language":"python"`, `"language":"python","error":""`), false},
		{"unknown verdict", "GET", "/api/jobs/x", 200, jsonCT, edit(`"verdict":"ok"`, `"verdict":"crash"`), false},
		{"result without exitCode", "GET", "/api/jobs/x", 200, jsonCT, edit(`"exitCode":0,`, ``), false},
		{"unknown limit", "GET", "/api/jobs/x", 200, jsonCT, edit(`"timeMs":2000,`, `"timeMs":2000,"cpu":1,`), false},
		{"zero limit", "GET", "/api/jobs/x", 200, jsonCT, edit(`"timeMs":2000,`, `"timeMs":0,`), false},
		{"job as text", "GET", "/api/jobs/x", 200, map[string]string{"Content-Type": "text/plain"}, job, false},
		{"undocumented status", "GET", "/api/jobs/x", 418, jsonCT, `{"error":{"code":"internal","message":"teapot"}}`, false},
		{"error", "GET", "/api/jobs/x", 404, jsonCT, `{"error":{"code":"not_found","message":"no such job"}}`, true},
		{"unknown error code", "GET", "/api/jobs/x", 404, jsonCT, `{"error":{"code":"nope","message":"no such job"}}`, false},
		{"flat error", "GET", "/api/jobs/x", 404, jsonCT, `{"code":"not_found","message":"no such job"}`, false},
		{"error without message", "GET", "/api/jobs/x", 404, jsonCT, `{"error":{"code":"not_found"}}`, false},
		{"accepted", "POST", "/api/jobs", 202, withCT(map[string]string{"Location": "/api/jobs/ABCDEFGHIJKLMNOPQRSTUVWXYZ"}),
			edit(`"status":"completed"`, `"status":"queued"`), true},
		{"accepted without Location", "POST", "/api/jobs", 202, jsonCT, edit(`"status":"completed"`, `"status":"queued"`), false},
		{"queue full", "POST", "/api/jobs", 503, withCT(map[string]string{"Retry-After": "1"}),
			`{"error":{"code":"queue_full","message":"full"}}`, true},
		{"queue full without Retry-After", "POST", "/api/jobs", 503, jsonCT, `{"error":{"code":"queue_full","message":"full"}}`, false},
		{"runtimes", "GET", "/api/runtimes", 200, jsonCT, runtimes, true},
		{"runtimes without maxLimits", "GET", "/api/runtimes", 200, jsonCT,
			strings.Replace(runtimes, `"maxLimits":{"timeMs":10000,"wallTimeMs":30000,"memoryMB":512,"outputKB":1024,"processes":64},`, "", 1), false},
		{"runtimes with a limit left out", "GET", "/api/runtimes", 200, jsonCT, strings.Replace(runtimes, `"processes":32`, `"openFiles":32`, 1), false},
		{"healthz", "GET", "/healthz", 200, jsonCT, `{"status":"ok"}`, true},
		{"healthz says ready", "GET", "/healthz", 200, jsonCT, `{"status":"ready"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.target, nil)
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.target, err)
			}
			h := http.Header{}
			for k, v := range c.header {
				h.Set(k, v)
			}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 c.status,
				Header:                 h,
				Body:                   io.NopCloser(strings.NewReader(c.body)),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			})
			switch {
			case c.ok && err != nil:
				t.Errorf("a right answer fails: %v", err)
			case !c.ok && err == nil:
				t.Errorf("a wrong answer passes")
			}
		})
	}
}
