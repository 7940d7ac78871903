package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// heartbeat is how often an idle event stream sends a comment, so that
// proxies and browsers keep it open.
const heartbeat = 15 * time.Second

// sse writes one Server-Sent Events stream.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (e sse) send(id int, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = e.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if id > 0 {
		fmt.Fprintf(e.w, "id: %d\n", id)
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e sse) comment(s string) error {
	_ = e.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(e.w, ": %s\n\n", s); err != nil {
		return err
	}
	return e.rc.Flush()
}

// eventData is the data of an event: a status, a piece of output, or a
// test's result (its JSON, as the worker logged it).
func eventData(ev onpyrunner.Event) any {
	switch ev.Type {
	case onpyrunner.StatusEvent:
		return map[string]string{"status": ev.Data}
	case onpyrunner.TestEvent:
		return json.RawMessage(ev.Data)
	}
	return map[string]string{"text": ev.Data}
}

// events streams a job: "status" events, "stdout" and "stderr" events as the
// program writes, and a last "result" event with the whole job. Each event
// of the live log has an id; a client that reconnects with Last-Event-ID
// (or ?after=N) gets only what it missed. A client that comes after the job
// has ended gets its final status, its whole output and the result.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	j, after, ok := s.streamStart(w, r, after)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := sse{w, http.NewResponseController(w)}
	// Like a wait, a stream goes on when the client half-closes; it ends
	// when a write fails (a heartbeat at the latest) or the server drains,
	// and the client reconnects with Last-Event-ID.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	defer context.AfterFunc(s.drained, cancel)()
	if err := s.stream(ctx, sseSink{out}, j, after); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Debug("event stream ended", "job", j.ID, "err", err)
	}
}

// streamStart reads what a stream of the job at r's path starts from: the
// job, and the events already seen (?after=, else after); it answers the
// error itself when there is one.
func (s *Server) streamStart(w http.ResponseWriter, r *http.Request, after int) (*onpyrunner.Job, int, bool) {
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, onpyrunner.Errorf(onpyrunner.CodeInvalid, "after: want an event id, a whole number"))
			return nil, 0, false
		}
		after = n
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	j, err := s.store.Get(ctx, r.PathValue("jobId"))
	if err != nil {
		s.fail(w, err)
		return nil, 0, false
	}
	return j, after, true
}

// sink is where a job's stream goes: an event stream or a WebSocket.
type sink interface {
	// event sends one event of the live log (seq 0 for one replayed from
	// the stored job).
	event(seq int, t onpyrunner.EventType, data string) error
	// result sends the ended job.
	result(j *onpyrunner.Job) error
	// ping keeps an idle stream open.
	ping() error
}

// sseSink writes a stream as Server-Sent Events.
type sseSink struct{ out sse }

func (e sseSink) event(seq int, t onpyrunner.EventType, data string) error {
	return e.out.send(seq, string(t), eventData(onpyrunner.Event{Type: t, Data: data}))
}
func (e sseSink) result(j *onpyrunner.Job) error { return e.out.send(0, "result", j.Public(false)) }
func (e sseSink) ping() error                    { return e.out.comment("ping") }

// stream sends j's events after seq after, then its result.
func (s *Server) stream(ctx context.Context, out sink, j *onpyrunner.Job, after int) error {
	for !j.Status.Final() {
		wctx, cancel := context.WithTimeout(ctx, heartbeat)
		evs, done, err := s.store.Events(wctx, j.ID, after)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if err := out.ping(); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		for _, ev := range evs {
			if err := out.event(ev.Seq, ev.Type, ev.Data); err != nil {
				return err
			}
			after = ev.Seq
		}
		if !done {
			continue
		}
		if j, err = s.store.Get(ctx, j.ID); err != nil {
			return err
		}
		if !j.Status.Final() && len(evs) == 0 {
			// No live log here, yet the job goes on (another process
			// runs it): look again shortly.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		if j.Status.Final() && after > 0 {
			return out.result(j)
		}
	}
	// The live log is gone: replay the end from the stored job. A client
	// that reconnects (after > 0) saw the output already; the result holds
	// it all anyway.
	if err := out.event(0, onpyrunner.StatusEvent, string(j.Status)); err != nil {
		return err
	}
	if res := j.Result; res != nil && after == 0 {
		for _, o := range []struct {
			t    onpyrunner.EventType
			text string
		}{{onpyrunner.StdoutEvent, res.Stdout}, {onpyrunner.StderrEvent, res.Stderr}} {
			if o.text == "" {
				continue
			}
			if err := out.event(0, o.t, o.text); err != nil {
				return err
			}
		}
	}
	return out.result(j)
}
