package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// BatchRequest is the body of POST /api/batches.
type BatchRequest struct {
	Jobs []json.RawMessage `json:"jobs"`
	// CallbackURL is each job's that names none of its own: each POSTs
	// its final state there when it ends.
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// BatchResponse is the answer of POST /api/batches (JobIDs) and of GET
// /api/batches/{batchId} (Jobs).
type BatchResponse struct {
	BatchID string            `json:"batchId"`
	JobIDs  []string          `json:"jobIds,omitempty"`
	Jobs    []*onpyrunner.Job `json:"jobs,omitempty"`
}

// submitBatch serves POST /api/batches: every job is checked before any is
// queued (the first bad one's index in the error), then all are queued; a
// queue that fills meanwhile cancels those queued already.
func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) {
	b, ok := s.store.(onpyrunner.Batches)
	if !ok {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "this server keeps no batches"))
		return
	}
	size, release, ok := s.admit(w, r, s.maxBatchBody())
	if !ok {
		return
	}
	defer release()
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, size))
	if err != nil {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeTooLarge, "the request body is over %d bytes", s.maxBatchBody()))
		return
	}
	var req BatchRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, jsonError(err))
		return
	}
	switch {
	case len(req.Jobs) == 0:
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeInvalid, "jobs: want at least one job"))
		return
	case len(req.Jobs) > s.cfg.MaxBatch:
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeInvalid, "jobs: %d, over the server's cap of %d", len(req.Jobs), s.cfg.MaxBatch))
		return
	}
	if err := s.checkCallback(req.CallbackURL); err != nil {
		s.fail(w, err)
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	jobs := make([]*onpyrunner.Job, len(req.Jobs))
	for i, rj := range req.Jobs {
		j, err := s.decodeSubmit(ctx, bytes.NewReader(rj))
		if e, ok := errors.AsType[*onpyrunner.Error](err); ok {
			s.fail(w, onpyrunner.Errorf(e.Code, "jobs[%d]: %s", i, e.Message))
			return
		} else if err != nil {
			s.fail(w, err)
			return
		}
		j.ID = newID()
		if j.CallbackURL == "" {
			j.CallbackURL = req.CallbackURL
		}
		jobs[i] = j
	}
	resp := BatchResponse{BatchID: newID()}
	for i, j := range jobs {
		if err := s.store.Submit(ctx, j); err != nil {
			for _, q := range jobs[:i] {
				_, _ = s.store.Cancel(context.WithoutCancel(ctx), q.ID)
			}
			s.fail(w, err)
			return
		}
		resp.JobIDs = append(resp.JobIDs, j.ID)
	}
	if err := b.SaveBatch(ctx, resp.BatchID, resp.JobIDs); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Location", "/api/batches/"+resp.BatchID)
	writeJSON(w, http.StatusAccepted, resp)
}

// maxBatchBody bounds a batch's body: its cap of jobs' bodies, within
// what the server reads at once (ReadingBytes).
func (s *Server) maxBatchBody() int64 {
	return min(int64(s.cfg.MaxBatch)*s.maxBody(), s.cfg.ReadingBytes)
}

// getBatch serves GET /api/batches/{batchId}: every job's status (and
// result), after waiting up to ?wait= for all to end.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	b, ok := s.store.(onpyrunner.Batches)
	if !ok {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "this server keeps no batches"))
		return
	}
	wait, err := s.parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		s.fail(w, err)
		return
	}
	id := r.PathValue("batchId")
	ctx, cancel := storeCtx(r)
	ids, err := b.Batch(ctx, id)
	cancel()
	if err != nil {
		s.fail(w, err)
		return
	}
	if wait > 0 {
		deadline := time.Now().Add(wait)
		for _, jid := range ids {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			if err := s.waitEnd(r, jid, left); err != nil {
				s.fail(w, err)
				return
			}
		}
	}
	ctx, cancel = storeCtx(r)
	defer cancel()
	resp := BatchResponse{BatchID: id}
	for _, jid := range ids {
		j, err := s.store.Get(ctx, jid)
		if err != nil {
			s.fail(w, err)
			return
		}
		resp.Jobs = append(resp.Jobs, j.Public(false))
	}
	writeJSON(w, http.StatusOK, resp)
}
