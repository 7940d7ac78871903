package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/metrics"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// loadSpec reads openapi.yaml from the package's folder, loads it and
// checks that it is a valid OpenAPI document.
func loadSpec(t testing.TB) (*openapi3.T, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc, raw
}

// TestOpenAPISpecValid checks the document itself: it validates, it lists
// exactly the routes of routes.go, and its schemas and enums follow the Go
// types that the API marshals.
func TestOpenAPISpecValid(t *testing.T) {
	doc, _ := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi: %q, want 3.0.3", doc.OpenAPI)
	}

	t.Run("operations", func(t *testing.T) {
		// The routes of routes.go (the /api/ catch-all 404 aside).
		want := []string{
			"DELETE /api/jobs/{jobId}", "GET /", "GET /api/jobs/{jobId}", "GET /api/jobs/{jobId}/events",
			"GET /api/openapi.yaml", "GET /api/runtimes", "GET /healthz", "GET /metrics", "GET /readyz",
			"POST /api/jobs",
		}
		var got []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				got = append(got, method+" "+path)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("operations:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("enums", func(t *testing.T) {
		for _, c := range []struct {
			schema, prop string
			want         []string
		}{
			{"Job", "status", strs(onpyrunner.Queued, onpyrunner.Running, onpyrunner.Completed, onpyrunner.Failed, onpyrunner.Canceled)},
			{"StatusEventData", "status", strs(onpyrunner.Queued, onpyrunner.Running, onpyrunner.Completed, onpyrunner.Failed, onpyrunner.Canceled)},
			{"Result", "verdict", strs(onpyrunner.OK, onpyrunner.RuntimeError, onpyrunner.TimeLimit, onpyrunner.WallTimeLimit,
				onpyrunner.MemoryLimit, onpyrunner.OutputLimit)},
		} {
			if got := enumOf(t, schemaOf(t, doc, c.schema).Properties[c.prop]); !slices.Equal(got, c.want) {
				t.Errorf("%s.%s enum %q, want %q", c.schema, c.prop, got, c.want)
			}
		}
		inner := schemaOf(t, doc, "Error").Properties["error"].Value
		want := strs(onpyrunner.CodeInvalid, onpyrunner.CodeNotFound, onpyrunner.CodeMethod, onpyrunner.CodeTooLarge, onpyrunner.CodeTooMany,
			onpyrunner.CodeQueueFull, onpyrunner.CodeUnavailable, onpyrunner.CodeInternal)
		if got := enumOf(t, inner.Properties["code"]); !slices.Equal(got, want) {
			t.Errorf("Error.error.code enum %q, want %q", got, want)
		}
	})

	// Each schema has the JSON fields of its Go type, no more, and (for
	// what the server writes) requires those that are never left out.
	t.Run("fields", func(t *testing.T) {
		for _, c := range []struct {
			schema   string
			schemaV  *openapi3.Schema
			v        any
			response bool
		}{
			{schema: "Job", v: onpyrunner.Job{}, response: true},
			{schema: "Result", v: onpyrunner.Result{}, response: true},
			{schema: "Limits", v: onpyrunner.Limits{}, response: true},
			{schema: "Runtime", v: api.Runtime{}, response: true},
			{schema: "RuntimesResponse", v: api.RuntimesResponse{}, response: true},
			{schema: "RuntimeLimits", v: api.RequestLimits{}},
			{schema: "SubmitRequest", v: api.SubmitRequest{}},
			{schema: "RequestLimits", v: api.RequestLimits{}},
			{schema: "Error.error", schemaV: schemaOf(t, doc, "Error").Properties["error"].Value, v: onpyrunner.Error{}, response: true},
		} {
			s := c.schemaV
			if s == nil {
				s = schemaOf(t, doc, c.schema)
			}
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s: want additionalProperties: false", c.schema)
			}
			names, required := jsonFields(reflect.TypeOf(c.v))
			var props []string
			for p := range s.Properties {
				props = append(props, p)
			}
			sort.Strings(props)
			if !slices.Equal(props, names) {
				t.Errorf("%s: properties %q, want the JSON fields of %T %q", c.schema, props, c.v, names)
			}
			if c.response {
				req := slices.Clone(s.Required)
				sort.Strings(req)
				if !slices.Equal(req, required) {
					t.Errorf("%s: required %q, want the fields %T never leaves out %q", c.schema, req, c.v, required)
				}
			}
		}
	})
}

func strs[S ~string](v ...S) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

func schemaOf(t testing.TB, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("no schema %s in components", name)
	}
	return ref.Value
}

func enumOf(t testing.TB, ref *openapi3.SchemaRef) []string {
	t.Helper()
	if ref == nil || ref.Value == nil {
		t.Fatal("no such property")
	}
	var out []string
	for _, v := range ref.Value.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// jsonFields lists the JSON names of a struct's fields, sorted, and those
// without omitempty.
func jsonFields(typ reflect.Type) (names, always []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(names)
	sort.Strings(always)
	return names, always
}

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
	const runtimes = `{"runtimes":[{"language":"python","version":"3.12.3"}],"default":"python",` +
		`"defaultLimits":{"timeMs":2000,"wallTimeMs":5000,"memoryMB":128,"outputKB":64,"processes":32},` +
		`"maxLimits":{"timeMs":10000,"wallTimeMs":30000,"memoryMB":512,"outputKB":1024,"processes":64},` +
		`"maxCodeBytes":131072,"maxInputBytes":8388608}`
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

// caseHeader names the test case that sent a request, so that the
// validator can hold each exchange to the case's expectations.
const caseHeader = "X-Test-Case"

type caseKey struct{}

// caseTransport adds caseHeader to the requests whose context names a case.
type caseTransport struct{ base http.RoundTripper }

func (c caseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if name, ok := r.Context().Value(caseKey{}).(string); ok {
		r = r.Clone(r.Context())
		r.Header.Set(caseHeader, name)
	}
	return c.base.RoundTrip(r)
}

// exchange is one request and its response, as the validator saw them.
type exchange struct {
	testCase string
	request  string // method and target
	op       string // method and path template of the spec's operation
	status   int
	reqErr   error // the request breaks the spec
	respErr  error // the response breaks the spec
	events   int   // events of an event stream, each checked
}

// specValidator is a middleware that checks every request and response
// against the document, and records what it saw.
type specValidator struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen []exchange
}

func newSpecValidator(t testing.TB, doc *openapi3.T) *specValidator {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specValidator{doc: doc, router: router}
}

func (v *specValidator) exchanges() []exchange {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seen)
}

func (v *specValidator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchange{testCase: r.Header.Get(caseHeader), request: r.Method + " " + r.URL.RequestURI()}
		defer func() {
			v.mu.Lock()
			v.seen = append(v.seen, ex)
			v.mu.Unlock()
		}()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			ex.reqErr = fmt.Errorf("read the request body: %w", err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := v.router.FindRoute(r)
		if err != nil {
			ex.reqErr = fmt.Errorf("no operation of the spec: %w", err)
			next.ServeHTTP(w, r)
			return
		}
		ex.op = r.Method + " " + route.Path
		vr := r.Clone(context.Background())
		vr.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{
			Request: vr, PathParams: params, Route: route,
			Options: &openapi3filter.Options{SkipSettingDefaults: true, MultiError: true},
		}
		ex.reqErr = openapi3filter.ValidateRequest(context.Background(), in)

		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		ex.status = cw.status
		if ex.status == 0 {
			ex.status = http.StatusOK
		}
		ex.respErr = v.checkResponse(in, ex.status, w.Header(), cw.body.Bytes(), &ex)
	})
}

// checkResponse validates a response. An event stream's body is no JSON:
// its status, headers and media type are checked against the document, and
// each event's data against the schema of its type.
func (v *specValidator) checkResponse(in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte, ex *exchange) error {
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	stream := mt == "text/event-stream"
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: stream},
	})
	if err != nil || !stream {
		return err
	}
	resp := in.Route.Operation.Responses.Status(status)
	if resp == nil || resp.Value.Content.Get(header.Get("Content-Type")) == nil {
		return fmt.Errorf("a %d answer of %s is documented without %s", status, ex.op, mt)
	}
	n, err := v.checkEvents(body)
	ex.events = n
	return err
}

// checkEvents checks an event stream: each event is a known type with one
// line of data that its schema accepts, the ids grow, and the last event is
// the result.
func (v *specValidator) checkEvents(body []byte) (int, error) {
	schemas := map[string]*openapi3.Schema{
		"status": v.doc.Components.Schemas["StatusEventData"].Value,
		"stdout": v.doc.Components.Schemas["OutputEventData"].Value,
		"stderr": v.doc.Components.Schemas["OutputEventData"].Value,
		"result": v.doc.Components.Schemas["Job"].Value,
	}
	var (
		n, lastID   int
		typ, id     string
		data        []string
		afterResult bool
	)
	dispatch := func() error {
		if typ == "" && data == nil {
			return nil
		}
		defer func() { typ, id, data = "", "", nil }()
		n++
		if afterResult {
			return fmt.Errorf("event %d (%s) after the result", n, typ)
		}
		s := schemas[typ]
		if s == nil {
			return fmt.Errorf("event %d: unknown type %q", n, typ)
		}
		if id != "" {
			i, err := strconv.Atoi(id)
			if err != nil || i <= lastID {
				return fmt.Errorf("event %d: id %q after %d", n, id, lastID)
			}
			lastID = i
		}
		if len(data) != 1 {
			return fmt.Errorf("event %d (%s): %d data lines", n, typ, len(data))
		}
		var val any
		if err := json.Unmarshal([]byte(data[0]), &val); err != nil {
			return fmt.Errorf("event %d (%s): data %q: %w", n, typ, data[0], err)
		}
		if err := s.VisitJSON(val, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
			return fmt.Errorf("event %d (%s): data %s: %w", n, typ, data[0], err)
		}
		afterResult = typ == "result"
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if err := dispatch(); err != nil {
				return n, err
			}
		case field == "":
			// a comment
		case field == "id":
			id = value
		case field == "event":
			typ = value
		case field == "data":
			data = append(data, value)
		default:
			return n, fmt.Errorf("unknown field in line %q", line)
		}
	}
	if typ != "" || data != nil {
		return n, fmt.Errorf("the stream ends inside an event")
	}
	if !afterResult {
		return n, fmt.Errorf("the stream ends without a result event (%d events)", n)
	}
	return n, nil
}

// captureWriter passes a response on to the client and keeps a copy.
// Unwrap lets http.ResponseController reach the connection (flushes, write
// deadlines) as the event stream needs.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) FlushError() error {
	return http.NewResponseController(c.ResponseWriter).Flush()
}
func (c *captureWriter) Flush() { _ = c.FlushError() }

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// conformance runs cases against servers wrapped in one validator, and at
// the end holds every exchange to its case.
type conformance struct {
	v  *specValidator
	hc *http.Client

	mu sync.Mutex
	// cases maps each case that ran to whether its requests are meant to
	// break the document (the server must answer them with an error, and
	// the document must refuse them too).
	cases map[string]bool
}

// start begins case t: its requests carry its name.
func (c *conformance) start(t *testing.T, invalid bool) context.Context {
	c.mu.Lock()
	c.cases[t.Name()] = invalid
	c.mu.Unlock()
	return context.WithValue(t.Context(), caseKey{}, t.Name())
}

// do sends a request and reads the whole answer.
func (c *conformance) do(t *testing.T, ctx context.Context, method, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// check runs once every server has closed (so every handler has
// returned): each exchange must pass the document, or break it exactly
// where its case meant to, every case must have been seen, and every
// documented status but 500 must have been produced.
func (c *conformance) check(t *testing.T, minExchanges int) {
	seen := c.v.exchanges()
	var fails []string
	fail := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	perCase := map[string]int{}
	covered := map[string]bool{}
	invalid, events := 0, 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ex := range seen {
		meant, known := c.cases[ex.testCase]
		if !known {
			fail("%s: sent by no known case (%q)", ex.request, ex.testCase)
			continue
		}
		perCase[ex.testCase]++
		events += ex.events
		if ex.op != "" {
			covered[fmt.Sprintf("%s %d", ex.op, ex.status)] = true
		}
		switch {
		case meant && ex.reqErr == nil:
			fail("%s: %s: the document accepts a request the case meant to be invalid (answered %d)", ex.testCase, ex.request, ex.status)
		case meant && ex.status < 400:
			fail("%s: %s: the server accepted an invalid request (%d)", ex.testCase, ex.request, ex.status)
		case !meant && ex.reqErr != nil:
			fail("%s: %s: request breaks the document: %v", ex.testCase, ex.request, ex.reqErr)
		case meant:
			invalid++
		}
		if ex.respErr != nil {
			fail("%s: %s: %d response breaks the document: %v", ex.testCase, ex.request, ex.status, ex.respErr)
		}
	}
	for name := range c.cases {
		if perCase[name] == 0 {
			fail("%s: the validator saw none of its requests", name)
		}
	}
	for path, item := range c.v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				key := fmt.Sprintf("%s %s %s", method, path, code)
				if code != "500" && !covered[key] {
					fail("%s is documented but never produced", key)
				}
			}
		}
	}
	if len(seen) < minExchanges {
		fail("the validator saw %d exchanges, want at least %d", len(seen), minExchanges)
	}
	if events == 0 {
		fail("the validator checked no server-sent event")
	}
	sort.Strings(fails)
	for _, f := range fails {
		t.Error(f)
	}
	t.Logf("validated %d requests and responses against openapi.yaml (%d requests meant to be invalid, %d server-sent events, %d operation/status pairs)",
		len(seen), invalid, events, len(covered))
}

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
		if !ran {
			return // skipped, or failed before the cases (and said why)
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
	ds := httptest.NewServer(c.v.wrap(api.New(dstore, api.Config{}, func() bool { return true })))
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
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/jobs/"+helloID+"?wait=10s&include=source", "")
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
			j, err := cl.Get(ctx, helloID, 0)
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
			j, err := cl.Get(ctx, slowID, 50*time.Millisecond)
			if err != nil || j.Status.Final() {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "events live", run: func(t *testing.T, ctx context.Context) {
			code := "import sys, time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)\nprint('bye', file=sys.stderr)"
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
			end, err := cl.Events(ctx, streamID, 2, func(ev client.Event) error {
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
			resp, b := c.do(t, ctx, "GET", ts.URL+"/api/jobs/"+helloID+"/events", "", "Last-Event-ID", "1", "Accept", "text/event-stream")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || !bytes.Contains(b, []byte("event: result")) {
				t.Errorf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}},
		{name: "events bad after", invalid: true, run: getError("/api/jobs/ABCDEFGHIJKLMNOPQRSTUVWXYZ/events?after=soon", 400, onpyrunner.CodeInvalid, "after")},
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
			j, err := cl.Cancel(ctx, helloID)
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
		{name: "queue submit running job", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, qs.URL, "", `{"code": "import time; time.sleep(3)", "limits": {"wallTimeMs": 5000}}`)
			if resp.StatusCode != 202 {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			runningID = j.ID
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				j, err := qcl.Get(ctx, runningID, 0)
				if err != nil {
					t.Fatal(err)
				}
				if j.Status == onpyrunner.Running {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the job does not start: %+v", j)
				}
			}
		}},
		{name: "queue submit queued job", run: func(t *testing.T, ctx context.Context) {
			resp, j := submit(t, ctx, qs.URL, "", `{"code": "import time; time.sleep(3)", "limits": {"wallTimeMs": 5000}}`)
			if resp.StatusCode != 202 || j.Status != onpyrunner.Queued {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
			queuedID = j.ID
		}},
		{name: "queue full", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "POST", qs.URL+"/api/jobs", `{"code": "print(1)"}`)
			wantError(t, resp, b, 503, onpyrunner.CodeQueueFull, "queue")
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}},
		{name: "rate limit first submission", run: func(t *testing.T, ctx context.Context) {
			if resp, j := submit(t, ctx, rs.URL, "", `{"code": "pass"}`); resp.StatusCode != 202 {
				t.Fatalf("%d %+v", resp.StatusCode, j)
			}
		}},
		{name: "rate limited", run: func(t *testing.T, ctx context.Context) {
			resp, b := c.do(t, ctx, "POST", rs.URL+"/api/jobs", `{"code": "pass"}`)
			wantError(t, resp, b, 429, onpyrunner.CodeTooMany, "slow down")
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}},
		{name: "cancel queued job", run: func(t *testing.T, ctx context.Context) {
			j, err := qcl.Cancel(ctx, queuedID)
			if err != nil || j.Status != onpyrunner.Canceled || j.StartedAt != nil || j.Result != nil {
				t.Errorf("%+v %v", j, err)
			}
		}},
		{name: "cancel running job", run: func(t *testing.T, ctx context.Context) {
			j, err := qcl.Cancel(ctx, runningID)
			if err != nil || j.Status != onpyrunner.Canceled {
				t.Fatalf("%+v %v", j, err)
			}
			j, err = qcl.Get(ctx, runningID, 5*time.Second)
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
