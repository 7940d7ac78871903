package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/attachtest"
)

// TestAttach runs interactive jobs as a client would: prompts answered
// over the WebSocket as they come, Ctrl-C, EOF.
func TestAttach(t *testing.T) {
	srv := newServer(t, serverOpts{})
	attachtest.Run(t, srv.Client)
}

// TestAttachTimeout: an interactive job nobody attaches to ends failed
// after the attach timeout, and frees its slot.
func TestAttachTimeout(t *testing.T) {
	srv := newServer(t, serverOpts{attach: time.Second, slots: 1})
	code := "print(input())"
	j, err := srv.Client.Submit(t.Context(), api.SubmitRequest{Code: &code, Interactive: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	end, err := srv.Client.Wait(t.Context(), j.ID)
	if err != nil || end.Status != onpyrunner.Failed || !strings.Contains(end.Error, "no client attached") {
		t.Fatalf("%+v %v", end, err)
	}
	next := "print('next')"
	n, err := srv.Client.Submit(t.Context(), api.SubmitRequest{Code: &next}, 30*time.Second)
	if err != nil || n.Status != onpyrunner.Completed || n.Result.Stdout != "next\n" {
		t.Fatalf("next: %+v %v", n, err)
	}
}

// TestAttachBadInput: what a client may get wrong gets an error message
// and changes nothing: the run goes on and ends as it would have.
func TestAttachBadInput(t *testing.T) {
	srv := newServer(t, serverOpts{api: api.Config{MaxInputBytes: 1000}})
	c := srv.Client
	if _, err := c.Attach(t.Context(), "NOSUCHJOB", false); !isStatus(err, 404) {
		t.Fatalf("unknown job: %v", err)
	}
	j := attachtest.Interactive(t, c, "import sys\nprint('ready')\nfor line in sys.stdin:\n    print('got', len(line))\n", "")
	at := attachtest.Attach(t, c, j.ID, false)
	at.Until("ready")
	for _, m := range []struct{ msg, code string }{
		{`{"type":"stdin"`, "invalid_request"},
		{`[]`, "invalid_request"},
		{`{"type":"paste","data":"x"}`, "invalid_request"},
		{`{"type":"stdin","data":"x","extra":1}`, "invalid_request"},
		{`{"type":"stdin"}`, "invalid_request"},
		{`{"type":"stdin","dataBase64":"@@@"}`, "invalid_request"},
		{`{"type":"signal","signal":"SIGSTOP"}`, "invalid_request"},
		{"{\"type\":\"stdin\",\"data\":\"\xff\"}", "invalid_request"},
		{`{"type":"stdin","data":"` + strings.Repeat("y", 1001) + `"}`, "too_large"},
	} {
		at.A.Send(t.Context(), []byte(m.msg))
		if e := at.NextError(); string(e.Code) != m.code {
			t.Errorf("%.40q: %+v, want %s", m.msg, e, m.code)
		}
	}
	at.A.Stdin(t.Context(), "12345\n")
	at.Until("got 6")
	at.A.Send(t.Context(), []byte(`{"type":"stdin","dataBase64":"YWJjCg=="}`))
	at.Until("got 4")
	at.A.EOF(t.Context())
	end := at.End()
	if end.Result == nil || end.Result.Verdict != onpyrunner.OK || end.Result.Stdout != "ready\ngot 6\ngot 4\n" {
		t.Fatalf("%+v", end)
	}
	// An ended job: its replay and result, and no input taken.
	late := attachtest.Attach(t, c, j.ID, false)
	if e := late.NextError(); e.Code != "ended" {
		t.Fatalf("input to an ended job: %+v", e)
	}
	if end := late.End(); end.Result.Stdout != "ready\ngot 6\ngot 4\n" || late.Stdout.String() != end.Result.Stdout {
		t.Fatalf("replay: %q %+v", late.Stdout.String(), end)
	}
	// A job that is not interactive may be watched, not written to.
	code := "import time\nprint('batch', flush=True)\ntime.sleep(30)\n"
	b, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code, Limits: &api.RequestLimits{WallTimeMs: ptr[int64](1500)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := attachtest.Attach(t, c, b.ID, false)
	w.Until("batch")
	w.A.Stdin(t.Context(), "x\n")
	if e := w.NextError(); e.Code != "not_interactive" {
		t.Fatalf("input to a batch job: %+v", e)
	}
	if end := w.End(); end.Result == nil || end.Result.Stdout != "batch\n" || end.Result.Verdict != onpyrunner.WallTimeLimit {
		t.Fatalf("%+v", end)
	}
}

func isStatus(err error, code int) bool {
	e, ok := errors.AsType[*client.Error](err)
	return ok && e.StatusCode == code
}

// BenchmarkAttachRoundTrip: a line sent on the WebSocket to its echo by
// print(input()), embedded store; p50 and p99 of 1,000 lines per run.
func BenchmarkAttachRoundTrip(b *testing.B) {
	srv := newServer(b, serverOpts{})
	for b.Loop() {
		took := attachtest.RoundTrip(b, srv.Client, 1000)
		b.ReportMetric(float64(attachtest.Quantile(took, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(attachtest.Quantile(took, 0.99).Microseconds())/1000, "p99-ms")
	}
}
