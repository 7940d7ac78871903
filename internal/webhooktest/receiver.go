// Package webhooktest is a webhook receiver for tests: a real HTTP server
// on loopback that checks each delivery's signature and records it.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/webhook"
)

// Secret is the secret the servers under test sign with.
const Secret = "test-secret"

// Receiver answers each delivery with the next of its codes (200 once
// they run out; a 429 with Retry-After: 1; 0: no answer until the sender
// goes away), after checking its signature, timestamp and content type
// (a test error otherwise).
type Receiver struct {
	*httptest.Server
	t     testing.TB
	mu    sync.Mutex
	codes []int
	got   []Delivery
	came  chan Delivery
}

// Delivery is one delivery as the receiver got it.
type Delivery struct {
	Job     onpyrunner.Job
	Body    []byte
	Attempt int
	At      time.Time
}

// New starts a Receiver, closed when t ends.
func New(t testing.TB, codes ...int) *Receiver {
	r := &Receiver{t: t, codes: codes, came: make(chan Delivery, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	d := Delivery{At: time.Now()}
	d.Body, _ = io.ReadAll(req.Body)
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("delivery: %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	if err := webhook.Verify([]byte(Secret), req.Header.Get(webhook.TimestampHeader), req.Header.Get(webhook.SignatureHeader),
		d.Body, time.Minute, time.Now()); err != nil {
		r.t.Errorf("delivery: %v", err)
	}
	if err := json.Unmarshal(d.Body, &d.Job); err != nil {
		r.t.Errorf("delivery body %q: %v", d.Body, err)
	}
	d.Attempt, _ = strconv.Atoi(req.Header.Get(webhook.AttemptHeader))
	r.mu.Lock()
	code := http.StatusOK
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	r.got = append(r.got, d)
	r.mu.Unlock()
	r.came <- d
	switch code {
	case 0:
		<-req.Context().Done()
		return
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
}

// Count is the deliveries received so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// Next waits for the next delivery, for d at most.
func (r *Receiver) Next(t testing.TB, d time.Duration) Delivery {
	t.Helper()
	select {
	case got := <-r.came:
		return got
	case <-time.After(d):
		t.Fatalf("no delivery within %v", d)
		return Delivery{}
	}
}

// Delays runs n jobs of print(1) one after another, each with its callback
// to r, and returns, sorted, the time from each job's end (its finishedAt)
// to its delivery's arrival.
func Delays(t testing.TB, c *client.Client, r *Receiver, n int) []time.Duration {
	t.Helper()
	code := "print(1)"
	var took []time.Duration
	for range n {
		j, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code, CallbackURL: r.URL}, 0)
		if err != nil {
			t.Fatal(err)
		}
		d := r.Next(t, time.Minute)
		if d.Job.ID != j.ID || d.Job.FinishedAt == nil {
			t.Fatalf("delivered job %s (finished %v), want %s", d.Job.ID, d.Job.FinishedAt, j.ID)
		}
		took = append(took, d.At.Sub(*d.Job.FinishedAt))
	}
	slices.Sort(took)
	return took
}
