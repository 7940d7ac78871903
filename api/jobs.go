package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// newID returns a job id: 128 random bits, in 26 base32 characters.
func newID() string { return rand.Text() }

// admit lets a submission in: within its client's rate, while the server
// is not draining, with room to read a body of at most max bytes (which it
// holds until release); else it answers the refusal.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, max int64) (size int64, release func(), ok bool) {
	if !s.limit.allow(r) {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeTooMany, "too many submissions from you; slow down"))
		return 0, nil, false
	}
	if s.draining() {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeUnavailable, "this server is shutting down; submit again shortly"))
		return 0, nil, false
	}
	size = max
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength
	}
	if !s.reading.TryAcquire(size) {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeUnavailable, "the server is busy reading other submissions; submit again shortly"))
		return 0, nil, false
	}
	return size, func() { s.reading.Release(size) }, true
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	wait, err := s.parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		s.fail(w, err)
		return
	}
	size, release, ok := s.admit(w, r, s.maxBody())
	if !ok {
		return
	}
	defer release()
	ctx, cancel := storeCtx(r)
	defer cancel()
	j, err := s.decodeSubmit(ctx, http.MaxBytesReader(w, r.Body, size))
	if err != nil {
		s.fail(w, err)
		return
	}
	j.ID = newID()
	if err := s.store.Submit(ctx, j); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Location", "/api/jobs/"+j.ID)
	if wait > 0 {
		s.answer(w, r, j.ID, wait)
		return
	}
	writeJSON(w, http.StatusAccepted, j.Public(false))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	wait, err := s.parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.answer(w, r, r.PathValue("jobId"), wait)
}

// answer writes the job, after waiting up to wait for its end.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, id string, wait time.Duration) {
	if wait > 0 {
		if err := s.waitEnd(r, id, wait); err != nil {
			s.fail(w, err)
			return
		}
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	j, err := s.store.Get(ctx, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	if o, ok := s.store.(onpyrunner.Outbox); ok && j.CallbackURL != "" && j.Status.Final() {
		// How its webhook stands; a store that does not say now leaves it out.
		if j.Webhook, err = o.DeliveryOf(ctx, id); err != nil {
			s.cfg.Logger.Warn("webhook state", "job", id, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, j.Public(r.URL.Query().Get("include") == "source"))
}

// waitEnd returns when the job has ended, wait has passed or the server
// drains. A client that half-closes does not end it: its read side is
// still open for the answer.
func (s *Server) waitEnd(r *http.Request, id string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), wait)
	defer cancel()
	defer context.AfterFunc(s.drained, cancel)()
	if _, err := onpyrunner.AwaitEnd(ctx, s.store, id); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // ended, or the wait ran out, or the server drains
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := storeCtx(r)
	defer cancel()
	j, err := s.store.Cancel(ctx, r.PathValue("jobId"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j.Public(false))
}
