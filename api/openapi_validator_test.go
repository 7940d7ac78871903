package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

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
		"test":   v.doc.Components.Schemas["TestResult"].Value,
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
	if c.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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
