package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// consoleTests check the stores' onpyrunner.Console and what interactive
// jobs need of the rest: their mode kept, a canceled run's result kept.
var consoleTests = []test{
	{"ConsoleMode", Config{}, testConsoleMode},
	{"ConsoleInput", Config{}, testConsoleInput},
	{"ConsoleRefused", Config{}, testConsoleRefused},
	{"ConsoleWriter", Config{}, testConsoleWriter},
	{"CancelKeepsResult", Config{}, testCancelKeepsResult},
	{"Batches", Config{}, testBatches},
}

func console(t testing.TB, s onpyrunner.Store) onpyrunner.Console {
	t.Helper()
	c, ok := s.(onpyrunner.Console)
	if !ok {
		t.Fatalf("%T is no onpyrunner.Console", s)
	}
	return c
}

func interactiveJob() *onpyrunner.Job {
	j := newJob()
	j.Mode = onpyrunner.Mode{Interactive: true, Unbuffered: true}
	return j
}

func send(t testing.TB, c onpyrunner.Console, id string, ty onpyrunner.EventType, data string) {
	t.Helper()
	if err := c.SendInput(bounded(t, wait), id, ty, data, 100); err != nil {
		t.Fatalf("send %s %q: %v", ty, data, err)
	}
}

// testConsoleMode: a job's options (its mode, its tests) are kept as
// given; a job without has none.
func testConsoleMode(t *testing.T, s onpyrunner.Store) {
	j := interactiveJob()
	j.Judging = onpyrunner.Judging{Compare: "float", Tolerance: 0.5, StopOnFirstFailure: true,
		Tests: []onpyrunner.Test{{Name: "a", Input: "1 2\n", ExpectedOutput: "3\n"}, {Input: "", ExpectedOutput: ""}}}
	submit(t, s, j)
	want := fmt.Sprint(j.Options)
	if got := get(t, s, j.ID); fmt.Sprint(got.Options) != want {
		t.Fatalf("stored options %+v, want %s", got.Options, want)
	}
	if got := claim(t, s); fmt.Sprint(got.Options) != want {
		t.Fatalf("claimed options %+v, want %s", got.Options, want)
	}
	plain := submit(t, s, newJob())
	if got := get(t, s, plain.ID); got.Mode != (onpyrunner.Mode{}) || got.Tests != nil {
		t.Fatalf("a batch job's options: %+v", got.Options)
	}
}

// testConsoleInput: input sent while the job is queued and while it runs
// is read in order, from any seq; a reader waits for the next; the log
// ends with the job.
func testConsoleInput(t *testing.T, s onpyrunner.Store) {
	c := console(t, s)
	j := submit(t, s, interactiveJob())
	send(t, c, j.ID, onpyrunner.AttachEvent, "")
	send(t, c, j.ID, onpyrunner.StdinEvent, "one\n")
	claim(t, s)
	send(t, c, j.ID, onpyrunner.SignalEvent, "SIGINT")
	read := func(after int) ([]onpyrunner.Event, bool) {
		t.Helper()
		evs, done, err := c.Input(bounded(t, wait), j.ID, after)
		if err != nil {
			t.Fatalf("input after %d: %v", after, err)
		}
		var in []onpyrunner.Event
		for _, ev := range evs {
			if ev.Type != onpyrunner.StatusEvent {
				in = append(in, ev)
			}
		}
		return in, done
	}
	var got []onpyrunner.Event
	after := 0
	for len(got) < 3 {
		evs, done := read(after)
		if done {
			t.Fatalf("the log ended early: %+v", got)
		}
		got = append(got, evs...)
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
		}
	}
	if got[0].Type != onpyrunner.AttachEvent || got[1].Type != onpyrunner.StdinEvent || got[1].Data != "one\n" ||
		got[2].Type != onpyrunner.SignalEvent || got[2].Data != "SIGINT" || got[0].Seq >= got[1].Seq || got[1].Seq >= got[2].Seq {
		t.Fatalf("input log %+v", got)
	}
	// A reader after the last waits for the next.
	next := make(chan []onpyrunner.Event, 1)
	go func() {
		evs, _, _ := c.Input(bounded(t, wait), j.ID, after)
		next <- evs
	}()
	time.Sleep(50 * time.Millisecond)
	send(t, c, j.ID, onpyrunner.EOFEvent, "")
	select {
	case evs := <-next:
		if len(evs) != 1 || evs[0].Type != onpyrunner.EOFEvent {
			t.Fatalf("waited for %+v", evs)
		}
	case <-time.After(prompt + wait):
		t.Fatal("a waiting reader did not get the next input")
	}
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, j)
	if _, done := read(after + 1); !done {
		t.Fatal("the input log goes on after the job's end")
	}
}

// testConsoleRefused: a job that is not interactive, or has ended, takes
// no input; stdin past the cap is refused and not logged.
func testConsoleRefused(t *testing.T, s onpyrunner.Store) {
	c := console(t, s)
	plain := submit(t, s, newJob())
	if err := c.SendInput(bounded(t, wait), plain.ID, onpyrunner.StdinEvent, "x", 100); !onpyrunner.HasCode(err, onpyrunner.CodeNotFound) {
		t.Fatalf("input to a batch job: %v", err)
	}
	if err := c.SendInput(bounded(t, wait), "bt-nosuchjob", onpyrunner.StdinEvent, "x", 100); !onpyrunner.HasCode(err, onpyrunner.CodeNotFound) {
		t.Fatalf("input to no job: %v", err)
	}
	j := submit(t, s, interactiveJob())
	send(t, c, j.ID, onpyrunner.StdinEvent, string(make([]byte, 60)))
	if err := c.SendInput(bounded(t, wait), j.ID, onpyrunner.StdinEvent, string(make([]byte, 41)), 100); !onpyrunner.HasCode(err, onpyrunner.CodeTooLarge) {
		t.Fatalf("stdin past the cap: %v", err)
	}
	send(t, c, j.ID, onpyrunner.StdinEvent, string(make([]byte, 40)))
	cancel(t, s, j.ID)
	if err := c.SendInput(bounded(t, wait), j.ID, onpyrunner.StdinEvent, "x", 100); !onpyrunner.HasCode(err, onpyrunner.CodeNotFound) {
		t.Fatalf("input to a canceled job: %v", err)
	}
}

func testConsoleWriter(t *testing.T, s onpyrunner.Store) {
	c := console(t, s)
	j := submit(t, s, interactiveJob())
	hold := func(token string, ttl time.Duration) bool {
		t.Helper()
		ok, err := c.HoldWriter(bounded(t, wait), j.ID, token, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !hold("a", time.Minute) || !hold("a", time.Minute) {
		t.Fatal("the first writer is refused")
	}
	if hold("b", time.Minute) {
		t.Fatal("a second writer holds the job too")
	}
	if err := c.ReleaseWriter(bounded(t, wait), j.ID, "b"); err != nil || hold("b", time.Minute) {
		t.Fatalf("another's release let go of a's hold: %v", err)
	}
	if err := c.ReleaseWriter(bounded(t, wait), j.ID, "a"); err != nil || !hold("b", 200*time.Millisecond) {
		t.Fatalf("after a's release, b is refused: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if !hold("c", time.Minute) {
		t.Fatal("an expired hold still refuses another writer")
	}
}

// testCancelKeepsResult: a job canceled while it runs keeps the result its
// worker stores when it lets go of it.
func testCancelKeepsResult(t *testing.T, s onpyrunner.Store) {
	j := submit(t, s, newJob())
	claim(t, s)
	cancel(t, s, j.ID)
	j.Status, j.Result = onpyrunner.Canceled, &onpyrunner.Result{Verdict: onpyrunner.RuntimeError, Signal: "SIGINT", Stdout: "so far\n"}
	finish(t, s, j)
	got := get(t, s, j.ID)
	if got.Status != onpyrunner.Canceled || got.Result == nil || got.Result.Stdout != "so far\n" {
		t.Fatalf("%+v %+v", got, got.Result)
	}
}

func testBatches(t *testing.T, s onpyrunner.Store) {
	b, ok := s.(onpyrunner.Batches)
	if !ok {
		t.Fatalf("%T keeps no batches", s)
	}
	ids := []string{submit(t, s, newJob()).ID, submit(t, s, newJob()).ID}
	if err := b.SaveBatch(bounded(t, wait), "bt-batch", ids); err != nil {
		t.Fatal(err)
	}
	got, err := b.Batch(bounded(t, wait), "bt-batch")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("%v %v, want %v", got, err, ids)
	}
	if _, err := b.Batch(bounded(t, wait), "bt-nosuchbatch"); !onpyrunner.HasCode(err, onpyrunner.CodeNotFound) {
		t.Fatalf("an unknown batch: %v", err)
	}
}
