package backendtest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

var eventTests = []test{
	{"EventsQueued", Config{}, testEventsQueued},
	{"EventsRunning", Config{}, testEventsRunning},
	{"EventsOutput", Config{}, testEventsOutput},
	{"EventsWaitForAppend", Config{}, testEventsWait},
	{"EventsFinalAfterFinish", Config{}, testEventsFinal},
	{"EventsFollowToCompleted", Config{}, testEventsFollowCompleted},
	{"EventsFollowToCanceled", Config{}, testEventsFollowCanceled},
	{"EventsOfEndedJob", Config{}, testEventsEnded},
	{"EventsContextEnds", Config{}, testEventsContext},
}

func events(t testing.TB, s onpyrunner.Store, id string, after int) ([]onpyrunner.Event, bool) {
	t.Helper()
	evs, done, err := s.Events(bounded(t, wait), id, after)
	if err != nil {
		t.Fatalf("Events(%s, after %d): %v", id, after, err)
	}
	return evs, done
}

// wantEvents checks what Events(id, after) gives at once.
func wantEvents(t testing.TB, s onpyrunner.Store, id string, after int, wantDone bool, want ...onpyrunner.Event) {
	t.Helper()
	evs, done := events(t, s, id, after)
	if !reflect.DeepEqual(evs, want) && (len(evs) > 0 || len(want) > 0) || done != wantDone {
		t.Fatalf("Events(after %d) = %v, done %v; want %v, done %v", after, evs, done, want, wantDone)
	}
}

func status(seq int, s onpyrunner.Status) onpyrunner.Event {
	return onpyrunner.Event{Seq: seq, Type: onpyrunner.StatusEvent, Data: string(s)}
}

func output(seq int, t onpyrunner.EventType, data string) onpyrunner.Event {
	return onpyrunner.Event{Seq: seq, Type: t, Data: data}
}

func appendOut(t testing.TB, s onpyrunner.Store, id string, typ onpyrunner.EventType, data string) {
	t.Helper()
	if err := s.Append(bounded(t, wait), id, typ, data); err != nil {
		t.Fatalf("Append %s %q: %v", typ, data, err)
	}
}

func testEventsQueued(t *testing.T, s onpyrunner.Store) {
	j := submit(t, s, newJob())
	wantEvents(t, s, j.ID, 0, false, status(1, onpyrunner.Queued))
}

func testEventsRunning(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	wantEvents(t, s, j.ID, 0, false, status(1, onpyrunner.Queued), status(2, onpyrunner.Running))
	wantEvents(t, s, j.ID, 1, false, status(2, onpyrunner.Running))
}

func testEventsOutput(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	want := []onpyrunner.Event{
		status(1, onpyrunner.Queued), status(2, onpyrunner.Running),
		output(3, onpyrunner.StdoutEvent, "line 1\n"),
		output(4, onpyrunner.StderrEvent, "wärning ✓\x00\n"),
		output(5, onpyrunner.StdoutEvent, "line 2 🐍"),
	}
	for _, ev := range want[2:] {
		appendOut(t, s, j.ID, ev.Type, ev.Data)
	}
	wantEvents(t, s, j.ID, 0, false, want...)
	wantEvents(t, s, j.ID, 2, false, want[2:]...)
	wantEvents(t, s, j.ID, 4, false, want[4:]...)
}

func testEventsWait(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	type batch struct {
		evs  []onpyrunner.Event
		done bool
	}
	got := make(chan batch, 1)
	go func() {
		evs, done, err := s.Events(bounded(t, wait), j.ID, 2)
		if err != nil {
			t.Errorf("Events: %v", err)
		}
		got <- batch{evs, done}
	}()
	select {
	case b := <-got:
		t.Fatalf("Events with nothing new returned at once: %v, done %v", b.evs, b.done)
	case <-time.After(200 * time.Millisecond):
	}
	appendOut(t, s, j.ID, onpyrunner.StdoutEvent, "hi\n")
	appended := time.Now()
	select {
	case b := <-got:
		if want := []onpyrunner.Event{output(3, onpyrunner.StdoutEvent, "hi\n")}; !reflect.DeepEqual(b.evs, want) || b.done {
			t.Fatalf("Events = %v, done %v; want %v, not done", b.evs, b.done, want)
		}
		if d := time.Since(appended); d > prompt/2 {
			t.Errorf("Events returned %v after the Append, want well under %v", d, prompt)
		}
	case <-time.After(wait):
		t.Fatalf("Events still waits %v after an Append", wait)
	}
}

// testEventsFinal checks that a subscriber that has read all but the end,
// and asks again only after the job ended, still gets the final status.
func testEventsFinal(t *testing.T, s onpyrunner.Store) {
	for _, end := range []onpyrunner.Status{onpyrunner.Completed, onpyrunner.Failed, onpyrunner.Canceled} {
		j := claimAs(t, s, submit(t, s, newJob()))
		appendOut(t, s, j.ID, onpyrunner.StdoutEvent, "out")
		wantEvents(t, s, j.ID, 2, false, output(3, onpyrunner.StdoutEvent, "out"))
		switch j.Status = end; end {
		case onpyrunner.Canceled:
			cancel(t, s, j.ID)
		case onpyrunner.Completed:
			j.Result = &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "out"}
			finish(t, s, j)
		default:
			j.Error = "the sandbox could not run this job"
			finish(t, s, j)
		}
		wantEvents(t, s, j.ID, 3, true, status(4, end))
	}
}

// follow reads a job's events from the start until done. It tells on
// started when it has read the first batch, and sends all it read on the
// channel it returns.
func follow(t testing.TB, s onpyrunner.Store, id string) (started <-chan struct{}, all <-chan []onpyrunner.Event) {
	first, out := make(chan struct{}), make(chan []onpyrunner.Event, 1)
	ctx := bounded(t, 2*wait)
	go func(first chan struct{}) {
		var evs []onpyrunner.Event
		defer func() { out <- evs }()
		for after := 0; ; {
			batch, done, err := s.Events(ctx, id, after)
			if err != nil {
				t.Errorf("Events(after %d), having read %v: %v", after, evs, err)
				return
			}
			evs = append(evs, batch...)
			if len(batch) > 0 {
				after = batch[len(batch)-1].Seq
			}
			if after > 0 && first != nil {
				close(first)
				first = nil
			}
			if done {
				return
			}
		}
	}(first)
	return first, out
}

func waitFor[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(wait):
		t.Fatalf("%s: nothing after %v", what, wait)
		var zero T
		return zero
	}
}

func testEventsFollowCompleted(t *testing.T, s onpyrunner.Store) {
	j := submit(t, s, newJob())
	started, all := follow(t, s, j.ID)
	waitFor(t, started, "the subscriber's first events")
	j = claimAs(t, s, j)
	want := []onpyrunner.Event{status(1, onpyrunner.Queued), status(2, onpyrunner.Running)}
	for i, text := range []string{"a", "b", "c", "d", "e"} {
		typ := []onpyrunner.EventType{onpyrunner.StdoutEvent, onpyrunner.StderrEvent}[i%2]
		appendOut(t, s, j.ID, typ, text)
		want = append(want, output(len(want)+1, typ, text))
		time.Sleep(time.Millisecond) // let the subscriber read some as they come
	}
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "ace", Stderr: "bd"}
	finish(t, s, j)
	want = append(want, status(len(want)+1, onpyrunner.Completed))
	if got := waitFor(t, all, "the subscriber's end"); !reflect.DeepEqual(got, want) {
		t.Fatalf("the subscriber read %v, want %v", got, want)
	}
}

// testEventsFollowCanceled is the worker's view: it follows the job it
// runs to learn of a cancel, and its late output and Finish change nothing.
func testEventsFollowCanceled(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	started, all := follow(t, s, j.ID)
	waitFor(t, started, "the subscriber's first events")
	appendOut(t, s, j.ID, onpyrunner.StdoutEvent, "working")
	cancel(t, s, j.ID)
	want := []onpyrunner.Event{status(1, onpyrunner.Queued), status(2, onpyrunner.Running),
		output(3, onpyrunner.StdoutEvent, "working"), status(4, onpyrunner.Canceled)}
	if got := waitFor(t, all, "the subscriber's end"); !reflect.DeepEqual(got, want) {
		t.Fatalf("the subscriber read %v, want %v", got, want)
	}
	_ = s.Append(bounded(t, wait), j.ID, onpyrunner.StdoutEvent, "late") // may fail: the job ended
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, j)
	wantEvents(t, s, j.ID, 4, true)
	wantStatus(t, get(t, s, j.ID), onpyrunner.Canceled)
}

// testEventsEnded asks for the events of a job that ended before: done at
// once, with no events when its live log is gone, or else its log up to
// its final status.
func testEventsEnded(t *testing.T, s onpyrunner.Store) {
	j := claimAs(t, s, submit(t, s, newJob()))
	j.Status, j.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, j)
	evs, done := events(t, s, j.ID, 0)
	if !done {
		t.Fatalf("Events of an ended job = %v, not done", evs)
	}
	if len(evs) > 0 && !reflect.DeepEqual(evs, []onpyrunner.Event{status(1, onpyrunner.Queued),
		status(2, onpyrunner.Running), status(3, onpyrunner.Completed)}) {
		t.Fatalf("Events of an ended job = %v, want none or its whole log", evs)
	}
	wantEvents(t, s, j.ID, 100, true) // after its end: nothing more, ever

	q := submit(t, s, newJob())
	cancel(t, s, q.ID)
	wantEvents(t, s, q.ID, 2, true)
}

func testEventsContext(t *testing.T, s onpyrunner.Store) {
	j := submit(t, s, newJob())
	_, _, err := s.Events(bounded(t, 100*time.Millisecond), j.ID, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Events past its deadline: %v, want context.DeadlineExceeded", err)
	}
	ctx, stop := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.Events(ctx, j.ID, 1)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	stop()
	if err := waitFor(t, errc, "Events after its context was canceled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Events after its context was canceled: %v, want context.Canceled", err)
	}
}
