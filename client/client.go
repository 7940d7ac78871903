// Package client is a Go client of OnPyRunner's HTTP API: submit a job,
// read or wait for it, follow its events, cancel it. The command's submit
// and bench, and the tests, use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

// Client talks to one server.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the server at base (e.g. http://localhost:8080);
// hc nil means http.DefaultClient.
func New(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), http: hc}
}

// Error is an error answer of the server.
type Error struct {
	StatusCode int
	Code       onpyrunner.Code
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Code, e.Message)
}

func answerError(status int, e onpyrunner.Error) *Error {
	return &Error{StatusCode: status, Code: e.Code, Message: e.Message}
}

// do sends a request and decodes a JSON answer into out; an answer of
// another status than the wanted ones is an *Error.
func (c *Client) do(ctx context.Context, method, path string, body any, out any, want ...int) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return w, json.NewDecoder(resp.Body).Decode(out)
		}
	}
	var e struct{ Error onpyrunner.Error }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error.Code == "" {
		return resp.StatusCode, &Error{StatusCode: resp.StatusCode, Code: onpyrunner.CodeInternal, Message: resp.Status}
	}
	return resp.StatusCode, answerError(resp.StatusCode, e.Error)
}

func waitQuery(wait time.Duration) string {
	if wait <= 0 {
		return ""
	}
	return "?wait=" + url.QueryEscape(wait.String())
}

// Submit submits a job. With wait > 0 the server holds the answer until
// the job ends or wait passes.
func (c *Client) Submit(ctx context.Context, req api.SubmitRequest, wait time.Duration) (*onpyrunner.Job, error) {
	var j onpyrunner.Job
	_, err := c.do(ctx, http.MethodPost, "/api/jobs"+waitQuery(wait), req, &j, http.StatusAccepted, http.StatusOK)
	return &j, err
}

// Get reads a job, waiting up to wait for its end.
func (c *Client) Get(ctx context.Context, id string, wait time.Duration) (*onpyrunner.Job, error) {
	var j onpyrunner.Job
	_, err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+waitQuery(wait), nil, &j, http.StatusOK)
	return &j, err
}

// Wait long-polls a job until it ends or ctx does.
func (c *Client) Wait(ctx context.Context, id string) (*onpyrunner.Job, error) {
	for {
		j, err := c.Get(ctx, id, 30*time.Second)
		if err != nil || j.Status.Final() {
			return j, err
		}
	}
}

// Cancel cancels a job and returns it.
func (c *Client) Cancel(ctx context.Context, id string) (*onpyrunner.Job, error) {
	var j onpyrunner.Job
	_, err := c.do(ctx, http.MethodDelete, "/api/jobs/"+url.PathEscape(id), nil, &j, http.StatusOK)
	return &j, err
}

// Runtimes lists the server's languages and limits.
func (c *Client) Runtimes(ctx context.Context) (*api.RuntimesResponse, error) {
	var r api.RuntimesResponse
	_, err := c.do(ctx, http.MethodGet, "/api/runtimes", nil, &r, http.StatusOK)
	return &r, err
}

// SubmitBatch submits jobs together: all are queued, or none (the error
// names the first bad one). callbackURL, when set, is each job's that
// names none of its own.
func (c *Client) SubmitBatch(ctx context.Context, jobs []api.SubmitRequest, callbackURL string) (*api.BatchResponse, error) {
	raw := make([]json.RawMessage, len(jobs))
	for i, j := range jobs {
		b, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		raw[i] = b
	}
	var out api.BatchResponse
	_, err := c.do(ctx, http.MethodPost, "/api/batches", api.BatchRequest{Jobs: raw, CallbackURL: callbackURL}, &out, http.StatusAccepted)
	return &out, err
}

// Batch returns a batch's jobs, after waiting up to wait for all to end.
func (c *Client) Batch(ctx context.Context, id string, wait time.Duration) (*api.BatchResponse, error) {
	var out api.BatchResponse
	_, err := c.do(ctx, http.MethodGet, "/api/batches/"+url.PathEscape(id)+waitQuery(wait), nil, &out, http.StatusOK)
	return &out, err
}
