package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

// interactive submits code as an interactive job.
func interactive(t testing.TB, c *client.Client, code, input string) *onpyrunner.Job {
	t.Helper()
	j, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code, Input: input, Interactive: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Interactive || !j.Unbuffered || j.Limits.WallTimeMs != (5*time.Minute).Milliseconds() {
		t.Fatalf("submitted: %+v", j)
	}
	return j
}

// attached is an attachment with what it has read so far.
type attached struct {
	t      testing.TB
	a      *client.Attachment
	stdout strings.Builder
	stderr strings.Builder
	errs   []*onpyrunner.Error
	job    *onpyrunner.Job // the result, once it came
	seq    int
}

func attach(t testing.TB, c *client.Client, id string, watch bool) *attached {
	t.Helper()
	a, err := c.Attach(t.Context(), id, watch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &attached{t: t, a: a}
}

// until reads messages until the output (stdout and stderr together, in
// the order of their seq) holds want, or the result came; it fails after a
// minute.
func (at *attached) until(want string) bool {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	for !strings.Contains(at.stdout.String()+at.stderr.String(), want) {
		if at.job != nil {
			return false
		}
		f, err := at.a.Next(ctx)
		if err != nil {
			at.t.Fatalf("waiting for %q (stdout %q, stderr %q): %v", want, at.stdout.String(), at.stderr.String(), err)
		}
		at.take(f)
	}
	return true
}

func (at *attached) take(f client.Frame) {
	at.t.Helper()
	if f.Seq != 0 {
		if f.Seq <= at.seq {
			at.t.Fatalf("seq %d after %d", f.Seq, at.seq)
		}
		at.seq = f.Seq
	}
	switch f.Type {
	case "stdout":
		at.stdout.WriteString(f.Data)
	case "stderr":
		at.stderr.WriteString(f.Data)
	case "result":
		at.job = f.Job
	case "error":
		at.errs = append(at.errs, f.Error)
	}
}

// end reads until the result and the close that follows it.
func (at *attached) end() *onpyrunner.Job {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	for {
		f, err := at.a.Next(ctx)
		if err != nil {
			if at.job == nil {
				at.t.Fatalf("closed before the result: %v", err)
			}
			return at.job
		}
		at.take(f)
	}
}

// nextError reads until an error message comes.
func (at *attached) nextError() *onpyrunner.Error {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	n := len(at.errs)
	for len(at.errs) == n {
		f, err := at.a.Next(ctx)
		if err != nil {
			at.t.Fatalf("no error message: %v", err)
		}
		at.take(f)
	}
	return at.errs[n]
}

// TestAttach runs interactive jobs as a client would: prompts answered
// over the WebSocket as they come, Ctrl-C, EOF.
func TestAttach(t *testing.T) {
	srv := newServer(t, serverOpts{})
	testAttach(t, srv.Client)
}

// testAttach is TestAttach on any server (the distributed one too).
func testAttach(t *testing.T, c *client.Client) {
	t.Run("two inputs", func(t *testing.T) {
		j := interactive(t, c, "name = input('Your name? ')\nage = input('Age? ')\nprint(f'{name} is {age}')\n", "")
		at := attach(t, c, j.ID, false)
		// The prompt comes before any answer is sent: the program waits.
		at.until("Your name? ")
		at.a.Stdin(t.Context(), "Ada\n")
		at.until("Age? ")
		at.a.Stdin(t.Context(), "36\n")
		end := at.end()
		if end.Status != onpyrunner.Completed || end.Result.Verdict != onpyrunner.OK || end.Result.Stdout != "Your name? Age? Ada is 36\n" ||
			at.stdout.String() != end.Result.Stdout {
			t.Fatalf("%+v %+v, streamed %q", end, end.Result, at.stdout.String())
		}
	})
	t.Run("SIGINT", func(t *testing.T) {
		j := interactive(t, c, "import time\nprint('ready')\nwhile True:\n    time.sleep(0.05)\n", "")
		at := attach(t, c, j.ID, false)
		at.until("ready")
		at.a.Signal(t.Context(), "SIGINT")
		end := at.end()
		if end.Result == nil || end.Result.Verdict != onpyrunner.RuntimeError || !strings.Contains(end.Result.Stderr, "KeyboardInterrupt") {
			t.Fatalf("%+v %+v", end, end.Result)
		}
	})
	t.Run("EOF", func(t *testing.T) {
		j := interactive(t, c, "import sys\nprint('first:', input())\nprint('ready')\ninput()\n", "given\n")
		at := attach(t, c, j.ID, false)
		at.until("ready")
		at.a.EOF(t.Context())
		end := at.end()
		if end.Result == nil || end.Result.Verdict != onpyrunner.RuntimeError || end.Result.Stdout != "first: given\nready\n" ||
			!strings.Contains(end.Result.Stderr, "EOFError") {
			t.Fatalf("%+v %+v", end, end.Result)
		}
	})
	t.Run("second writer", func(t *testing.T) {
		j := interactive(t, c, "print(input('? '))\n", "")
		first := attach(t, c, j.ID, false)
		first.until("? ")
		second := attach(t, c, j.ID, false)
		if e := second.nextError(); e.Code != "conflict" {
			t.Fatalf("second writer: %+v", e)
		}
		watcher := attach(t, c, j.ID, true)
		watcher.until("? ")
		watcher.a.Stdin(t.Context(), "from the watcher\n")
		if e := watcher.nextError(); e.Code != "read_only" {
			t.Fatalf("watcher's stdin: %+v", e)
		}
		first.a.Stdin(t.Context(), "hi\n")
		if end := first.end(); end.Result == nil || end.Result.Stdout != "? hi\n" {
			t.Fatalf("%+v", end)
		}
		if end := watcher.end(); end.Result == nil || end.Result.Stdout != "? hi\n" {
			t.Fatalf("watcher: %+v", end)
		}
	})
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
	j := interactive(t, c, "import sys\nprint('ready')\nfor line in sys.stdin:\n    print('got', len(line))\n", "")
	at := attach(t, c, j.ID, false)
	at.until("ready")
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
		at.a.Send(t.Context(), []byte(m.msg))
		if e := at.nextError(); string(e.Code) != m.code {
			t.Errorf("%.40q: %+v, want %s", m.msg, e, m.code)
		}
	}
	at.a.Stdin(t.Context(), "12345\n")
	at.until("got 6")
	at.a.Send(t.Context(), []byte(`{"type":"stdin","dataBase64":"YWJjCg=="}`))
	at.until("got 4")
	at.a.EOF(t.Context())
	end := at.end()
	if end.Result == nil || end.Result.Verdict != onpyrunner.OK || end.Result.Stdout != "ready\ngot 6\ngot 4\n" {
		t.Fatalf("%+v", end)
	}
	// An ended job: its replay and result, and no input taken.
	late := attach(t, c, j.ID, false)
	if e := late.nextError(); e.Code != "ended" {
		t.Fatalf("input to an ended job: %+v", e)
	}
	if end := late.end(); end.Result.Stdout != "ready\ngot 6\ngot 4\n" || late.stdout.String() != end.Result.Stdout {
		t.Fatalf("replay: %q %+v", late.stdout.String(), end)
	}
	// A job that is not interactive may be watched, not written to.
	code := "import time\nprint('batch', flush=True)\ntime.sleep(30)\n"
	b, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code, Limits: &api.RequestLimits{WallTimeMs: ptr[int64](1500)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := attach(t, c, b.ID, false)
	w.until("batch")
	w.a.Stdin(t.Context(), "x\n")
	if e := w.nextError(); e.Code != "not_interactive" {
		t.Fatalf("input to a batch job: %+v", e)
	}
	if end := w.end(); end.Result == nil || end.Result.Stdout != "batch\n" || end.Result.Verdict != onpyrunner.WallTimeLimit {
		t.Fatalf("%+v", end)
	}
}

func isStatus(err error, code int) bool {
	e, ok := errors.AsType[*client.Error](err)
	return ok && e.StatusCode == code
}
