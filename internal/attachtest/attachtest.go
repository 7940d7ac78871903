// Package attachtest is the test of interactive runs that the API's tests
// and the distributed mode's run against a real server: prompts answered
// over the WebSocket as they come, Ctrl-C, EOF, one writer at a time; and
// the round trip of a line, for the benchmarks.
package attachtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

// Interactive submits code as an interactive job.
func Interactive(t testing.TB, c *client.Client, code, input string) *onpyrunner.Job {
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

// Attached is an attachment with what it has read so far.
type Attached struct {
	t testing.TB
	// A is the attachment.
	A *client.Attachment
	// Stdout and Stderr are the output read so far.
	Stdout, Stderr strings.Builder
	errs           []*onpyrunner.Error
	job            *onpyrunner.Job // the result, once it came
	seq            int
}

// Attach attaches to job id, read-only when watch is set.
func Attach(t testing.TB, c *client.Client, id string, watch bool) *Attached {
	t.Helper()
	a, err := c.Attach(t.Context(), id, watch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &Attached{t: t, A: a}
}

// Until reads messages until the output (stdout and stderr together, in
// the order of their seq) holds want, or the result came; it fails after a
// minute.
func (at *Attached) Until(want string) bool {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	for !strings.Contains(at.Stdout.String()+at.Stderr.String(), want) {
		if at.job != nil {
			return false
		}
		f, err := at.A.Next(ctx)
		if err != nil {
			at.t.Fatalf("waiting for %q (stdout %q, stderr %q): %v", want, at.Stdout.String(), at.Stderr.String(), err)
		}
		at.take(f)
	}
	return true
}

func (at *Attached) take(f client.Frame) {
	at.t.Helper()
	if f.Seq != 0 {
		if f.Seq <= at.seq {
			at.t.Fatalf("seq %d after %d", f.Seq, at.seq)
		}
		at.seq = f.Seq
	}
	switch f.Type {
	case "stdout":
		at.Stdout.WriteString(f.Data)
	case "stderr":
		at.Stderr.WriteString(f.Data)
	case "result":
		at.job = f.Job
	case "error":
		at.errs = append(at.errs, f.Error)
	}
}

// End reads until the result and the close that follows it.
func (at *Attached) End() *onpyrunner.Job {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	for {
		f, err := at.A.Next(ctx)
		if err != nil {
			if at.job == nil {
				at.t.Fatalf("closed before the result: %v", err)
			}
			return at.job
		}
		at.take(f)
	}
}

// NextError reads until an error message comes.
func (at *Attached) NextError() *onpyrunner.Error {
	at.t.Helper()
	ctx, cancel := context.WithTimeout(at.t.Context(), time.Minute)
	defer cancel()
	n := len(at.errs)
	for len(at.errs) == n {
		f, err := at.A.Next(ctx)
		if err != nil {
			at.t.Fatalf("no error message: %v", err)
		}
		at.take(f)
	}
	return at.errs[n]
}

// Run runs the interactive tests against the server c talks to.
func Run(t *testing.T, c *client.Client) {
	t.Run("two inputs", func(t *testing.T) {
		j := Interactive(t, c, "name = input('Your name? ')\nage = input('Age? ')\nprint(f'{name} is {age}')\n", "")
		at := Attach(t, c, j.ID, false)
		// The prompt comes before any answer is sent: the program waits.
		at.Until("Your name? ")
		at.A.Stdin(t.Context(), "Ada\n")
		at.Until("Age? ")
		at.A.Stdin(t.Context(), "36\n")
		end := at.End()
		if end.Status != onpyrunner.Completed || end.Result.Verdict != onpyrunner.OK || end.Result.Stdout != "Your name? Age? Ada is 36\n" ||
			at.Stdout.String() != end.Result.Stdout {
			t.Fatalf("%+v %+v, streamed %q", end, end.Result, at.Stdout.String())
		}
	})
	t.Run("SIGINT", func(t *testing.T) {
		j := Interactive(t, c, "import time\nprint('ready')\nwhile True:\n    time.sleep(0.05)\n", "")
		at := Attach(t, c, j.ID, false)
		at.Until("ready")
		at.A.Signal(t.Context(), "SIGINT")
		end := at.End()
		if end.Result == nil || end.Result.Verdict != onpyrunner.RuntimeError || !strings.Contains(end.Result.Stderr, "KeyboardInterrupt") {
			t.Fatalf("%+v %+v", end, end.Result)
		}
	})
	t.Run("EOF", func(t *testing.T) {
		j := Interactive(t, c, "import sys\nprint('first:', input())\nprint('ready')\ninput()\n", "given\n")
		at := Attach(t, c, j.ID, false)
		at.Until("ready")
		at.A.EOF(t.Context())
		end := at.End()
		if end.Result == nil || end.Result.Verdict != onpyrunner.RuntimeError || end.Result.Stdout != "first: given\nready\n" ||
			!strings.Contains(end.Result.Stderr, "EOFError") {
			t.Fatalf("%+v %+v", end, end.Result)
		}
	})
	t.Run("second writer", func(t *testing.T) {
		j := Interactive(t, c, "print(input('? '))\n", "")
		first := Attach(t, c, j.ID, false)
		first.Until("? ")
		second := Attach(t, c, j.ID, false)
		if e := second.NextError(); e.Code != "conflict" {
			t.Fatalf("second writer: %+v", e)
		}
		watcher := Attach(t, c, j.ID, true)
		watcher.Until("? ")
		watcher.A.Stdin(t.Context(), "from the watcher\n")
		if e := watcher.NextError(); e.Code != "read_only" {
			t.Fatalf("watcher's stdin: %+v", e)
		}
		first.A.Stdin(t.Context(), "hi\n")
		if end := first.End(); end.Result == nil || end.Result.Stdout != "? hi\n" {
			t.Fatalf("%+v", end)
		}
		if end := watcher.End(); end.Result == nil || end.Result.Stdout != "? hi\n" {
			t.Fatalf("watcher: %+v", end)
		}
	})
}

// RoundTrip sends n lines, one at a time, to a program that echoes each
// (print(input()) in a loop) and returns the time from each line's send to
// its echo's arrival, sorted.
func RoundTrip(t testing.TB, c *client.Client, n int) []time.Duration {
	t.Helper()
	j := Interactive(t, c, "while True:\n    print(input())\n", "")
	at := Attach(t, c, j.ID, false)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	took := make([]time.Duration, 0, n)
	want := 0
	for i := range n {
		line := fmt.Sprintf("line %d\n", i)
		want += len(line)
		t0 := time.Now()
		if err := at.A.Stdin(ctx, line); err != nil {
			t.Fatal(err)
		}
		for at.Stdout.Len() < want {
			f, err := at.A.Next(ctx)
			if err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			at.take(f)
		}
		took = append(took, time.Since(t0))
	}
	if !strings.HasSuffix(at.Stdout.String(), fmt.Sprintf("line %d\n", n-1)) {
		t.Fatalf("echoed %q", at.Stdout.String())
	}
	at.A.EOF(ctx)
	at.End()
	slices.Sort(took)
	return took
}

// Quantile is the q-quantile of sorted durations.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}
