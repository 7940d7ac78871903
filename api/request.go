package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/judge"
	"github.com/onpyrunner/onpyrunner/webhook"
)

// SubmitRequest is the body of POST /api/jobs.
type SubmitRequest struct {
	Code     *string        `json:"code"`
	Input    string         `json:"input,omitempty"`
	Language string         `json:"language,omitempty"`
	Version  string         `json:"version,omitempty"`
	Limits   *RequestLimits `json:"limits,omitempty"`
	// Interactive and Unbuffered are the job's onpyrunner.Mode.
	Interactive bool `json:"interactive,omitempty"`
	Unbuffered  bool `json:"unbuffered,omitempty"`
	// Tests, Compare, Tolerance and StopOnFirstFailure are the job's
	// onpyrunner.Judging.
	Tests              []onpyrunner.Test `json:"tests,omitempty"`
	Compare            string            `json:"compare,omitempty"`
	Tolerance          *float64          `json:"tolerance,omitempty"`
	StopOnFirstFailure bool              `json:"stopOnFirstFailure,omitempty"`
	// CallbackURL is where the job's final state is POSTed when it ends.
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// RequestLimits are the limits a job may ask for; a field left out takes
// the server's default.
type RequestLimits struct {
	TimeMs     *int64 `json:"timeMs,omitempty"`
	WallTimeMs *int64 `json:"wallTimeMs,omitempty"`
	MemoryMB   *int64 `json:"memoryMB,omitempty"`
	OutputKB   *int64 `json:"outputKB,omitempty"`
	Processes  *int64 `json:"processes,omitempty"`
}

// publicLimits shows the limits that a request may set.
func publicLimits(l onpyrunner.Limits) RequestLimits {
	return RequestLimits{&l.TimeMs, &l.WallTimeMs, &l.MemoryMB, &l.OutputKB, &l.Processes}
}

// decodeSubmit reads and checks a submission, and turns it into a job to
// queue. Its errors are *onpyrunner.Error that name the bad field.
func (s *Server) decodeSubmit(ctx context.Context, body io.Reader) (*onpyrunner.Job, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, onpyrunner.Errorf(onpyrunner.CodeTooLarge, "the request body is over %d bytes", s.maxBody())
		}
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "could not read the request body")
	}
	if !utf8.Valid(raw) {
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "the request body is not valid UTF-8")
	}
	// Unmarshal, not a Decoder, which would copy the whole body into its
	// own buffer first; exactFields catches unknown fields.
	var req SubmitRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, jsonError(err)
	}
	if err := exactFields(raw); err != nil {
		return nil, err
	}
	if req.Code == nil {
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "code: required")
	}
	if n := int64(len(*req.Code)); n > s.cfg.MaxCodeBytes {
		return nil, onpyrunner.Errorf(onpyrunner.CodeTooLarge, "code: %d bytes, over the server's cap of %d", n, s.cfg.MaxCodeBytes)
	}
	if n := int64(len(req.Input)); n > s.cfg.MaxInputBytes {
		return nil, onpyrunner.Errorf(onpyrunner.CodeTooLarge, "input: %d bytes, over the server's cap of %d", n, s.cfg.MaxInputBytes)
	}
	offered := s.langs.get(ctx)
	lang := req.Language
	if lang == "" {
		lang = offered[0].Language
	}
	if !slices.ContainsFunc(offered, func(rt Runtime) bool { return rt.Language == lang }) {
		var names []string
		for _, rt := range offered {
			names = append(names, rt.Language)
		}
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "language: %q is not offered here; offered: %s (see GET /api/runtimes)",
			lang, strings.Join(names, ", "))
	}
	if req.Version != "" && !versionSelector.MatchString(req.Version) {
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "version: %q is not a version (3, 3.14 or 3.14.10)", req.Version)
	}
	rt, ok := onpyrunner.SelectRuntime(offered, lang, req.Version)
	if !ok {
		var have []string
		for _, rt := range offered {
			have = append(have, rt.Language+" "+rt.Version)
		}
		return nil, onpyrunner.Errorf(onpyrunner.CodeInvalid, "version: no %s %s is installed here; installed: %s (see GET /api/runtimes)",
			lang, req.Version, strings.Join(have, ", "))
	}
	lim, err := s.limits(req.Limits, req.Interactive)
	if err != nil {
		return nil, err
	}
	jg, err := s.judging(&req)
	if err != nil {
		return nil, err
	}
	if err := s.checkCallback(req.CallbackURL); err != nil {
		return nil, err
	}
	return &onpyrunner.Job{Language: lang, Version: rt.Version, Limits: lim, Code: *req.Code, Input: req.Input,
		Options: onpyrunner.Options{Mode: onpyrunner.Mode{Interactive: req.Interactive, Unbuffered: req.Unbuffered || req.Interactive},
			Judging: jg, CallbackURL: req.CallbackURL}}, nil
}

// checkCallback refuses a callback URL that the server will not deliver
// to, and any where it sends no webhooks.
func (s *Server) checkCallback(u string) error {
	switch {
	case u == "":
		return nil
	case !s.cfg.Webhooks:
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "callbackUrl: this server sends no webhooks (it has no --webhook-secret)")
	}
	if err := webhook.CheckURL(u, s.cfg.WebhookPrivate); err != nil {
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "callbackUrl: %s", err)
	}
	return nil
}

// judging checks a submission's tests: at most MaxTests, their inputs and
// expected outputs within MaxInputBytes in all, a known compare mode and a
// tolerance that is a number of at least 0; none with an interactive job
// or an input of its own.
func (s *Server) judging(req *SubmitRequest) (onpyrunner.Judging, error) {
	jg := onpyrunner.Judging{Tests: req.Tests, Compare: req.Compare, StopOnFirstFailure: req.StopOnFirstFailure}
	if req.Tolerance != nil {
		jg.Tolerance = *req.Tolerance
	}
	switch {
	case !judge.Mode(req.Compare).Valid():
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "compare: %q is not a mode; want exact, lines, tokens or float", req.Compare)
	case req.Tolerance != nil && !(*req.Tolerance >= 0 && *req.Tolerance < 1e300):
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "tolerance: want a number of at least 0")
	case len(req.Tests) == 0 && (req.Compare != "" || req.Tolerance != nil || req.StopOnFirstFailure):
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "compare, tolerance and stopOnFirstFailure go with tests")
	case len(req.Tests) == 0:
		return jg, nil
	case len(req.Tests) > s.cfg.MaxTests:
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "tests: %d, over the server's cap of %d", len(req.Tests), s.cfg.MaxTests)
	case req.Interactive:
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "tests: an interactive job has none (its input comes from its client)")
	case req.Input != "":
		return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "input: a job with tests takes each test's input instead")
	}
	var n int64
	for i, t := range req.Tests {
		n += int64(len(t.Input) + len(t.ExpectedOutput))
		if len(t.Name) > 100 {
			return jg, onpyrunner.Errorf(onpyrunner.CodeInvalid, "tests[%d].name: over 100 bytes", i)
		}
	}
	if n > s.cfg.MaxInputBytes {
		return jg, onpyrunner.Errorf(onpyrunner.CodeTooLarge, "tests: %d bytes of input and expected output, over the server's cap of %d", n, s.cfg.MaxInputBytes)
	}
	return jg, nil
}

// versionSelector is what "version" may be: one to three numbers.
var versionSelector = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$`)

// exactFields refuses field names that differ from the API's only in case,
// which encoding/json would take: the API has one spelling of each.
func exactFields(raw []byte) error {
	var top map[string]skip
	if json.Unmarshal(raw, &top) != nil {
		return nil // not an object: null, which the required fields catch
	}
	var lim struct {
		Limits map[string]skip   `json:"limits"`
		Tests  []map[string]skip `json:"tests"`
	}
	_ = json.Unmarshal(raw, &lim)
	for i, t := range lim.Tests {
		for k := range t {
			if !slices.Contains([]string{"name", "input", "expectedOutput"}, k) {
				return onpyrunner.Errorf(onpyrunner.CodeInvalid, "unknown field %q", fmt.Sprintf("tests[%d].%s", i, k))
			}
		}
		if _, ok := t["expectedOutput"]; !ok {
			return onpyrunner.Errorf(onpyrunner.CodeInvalid, "tests[%d].expectedOutput: required", i)
		}
	}
	for _, set := range []struct {
		prefix string
		got    map[string]skip
		want   []string
	}{
		{"", top, submitFields},
		{"limits.", lim.Limits, limitFields},
	} {
		for k := range set.got {
			if !slices.Contains(set.want, k) {
				return onpyrunner.Errorf(onpyrunner.CodeInvalid, "unknown field %q", set.prefix+k)
			}
		}
	}
	return nil
}

// submitFields and limitFields are the JSON names of SubmitRequest's and
// RequestLimits's fields.
var submitFields, limitFields = jsonNames(reflect.TypeFor[SubmitRequest]()), jsonNames(reflect.TypeFor[RequestLimits]())

func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// skip is a JSON value read past without a copy (json.RawMessage would
// copy the code and input once more).
type skip struct{}

// UnmarshalJSON keeps nothing.
func (*skip) UnmarshalJSON([]byte) error { return nil }

// maxBody bounds a submission's body: code and input with room for JSON
// escapes.
func (s *Server) maxBody() int64 { return maxBody(s.cfg) }

func maxBody(c Config) int64 { return 2*(c.MaxCodeBytes+c.MaxInputBytes) + 64<<10 }

// limits applies the server's defaults and maxima to what a job asked
// for; an interactive job's wall limit is InteractiveWallTime's.
func (s *Server) limits(req *RequestLimits, interactive bool) (onpyrunner.Limits, error) {
	l, max := s.cfg.DefaultLimits, s.cfg.MaxLimits
	if interactive {
		l.WallTimeMs = s.cfg.InteractiveWallTime.Milliseconds()
		max.WallTimeMs = l.WallTimeMs
	}
	if req == nil {
		return l, nil
	}
	for _, f := range []struct {
		name     string
		asked    *int64
		dst, max *int64
	}{
		{"timeMs", req.TimeMs, &l.TimeMs, &max.TimeMs},
		{"wallTimeMs", req.WallTimeMs, &l.WallTimeMs, &max.WallTimeMs},
		{"memoryMB", req.MemoryMB, &l.MemoryMB, &max.MemoryMB},
		{"outputKB", req.OutputKB, &l.OutputKB, &max.OutputKB},
		{"processes", req.Processes, &l.Processes, &max.Processes},
	} {
		switch {
		case f.asked == nil:
		case *f.asked < 1:
			return l, onpyrunner.Errorf(onpyrunner.CodeInvalid, "limits.%s: must be at least 1", f.name)
		case *f.max > 0 && *f.asked > *f.max:
			return l, onpyrunner.Errorf(onpyrunner.CodeInvalid, "limits.%s: %d is over the server's maximum of %d", f.name, *f.asked, *f.max)
		default:
			*f.dst = *f.asked
		}
	}
	l.StderrKB = l.OutputKB
	return l, nil
}

// jsonError words a decoding error for the client, naming the field.
func jsonError(err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "the request body: want a JSON object, got a JSON %s", typ.Value)
	case errors.As(err, &typ):
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "%s: want %s, got a JSON %s", typ.Field, jsonWords(typ.Type), typ.Value)
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "after top-level value"):
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "the request body holds more than one JSON value")
	case errors.As(err, &syn):
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "malformed JSON: the body ends too soon")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return onpyrunner.Errorf(onpyrunner.CodeInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return onpyrunner.Errorf(onpyrunner.CodeInvalid, "malformed JSON: %v", err)
}

// jsonWords names a Go type as the API's documents do: what JSON it takes.
func jsonWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// parseWait reads ?wait=: a Go duration ("10s", "500ms") or whole seconds,
// capped at the server's MaxWait.
func (s *Server) parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseFloat(v, 64)
		if nerr != nil || n != n || n > 1e6 {
			return 0, onpyrunner.Errorf(onpyrunner.CodeInvalid, "wait: %q is not a duration such as 10s", v)
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < 0 {
		return 0, onpyrunner.Errorf(onpyrunner.CodeInvalid, "wait: must not be negative")
	}
	return min(d, s.cfg.MaxWait), nil
}
