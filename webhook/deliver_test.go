package webhook_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/webhooktest"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/webhook"
)

var secret = []byte(webhooktest.Secret)

// rig is the embedded store with a deliverer running over it.
type rig struct {
	store    *sqlite.Store
	mu       sync.Mutex
	outcomes []webhook.Outcome
	seen     int    // the outcomes awaitOutcome has looked at
	stop     func() // ends Run and waits for it
}

func newRig(t *testing.T, cfg webhook.Config) *rig {
	store, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &rig{store: store}
	cfg.Secret = secret
	cfg.Observe = func(o webhook.Outcome, _ time.Duration) {
		r.mu.Lock()
		r.outcomes = append(r.outcomes, o)
		r.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		_ = webhook.New(store, store, cfg).Run(ctx)
	}()
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
	return r
}

// end runs a job with a callback to url through the store to its end.
func (r *rig) end(t *testing.T, url string) *onpyrunner.Job {
	t.Helper()
	ctx := t.Context()
	j := &onpyrunner.Job{ID: "wh-" + strconv.FormatInt(time.Now().UnixNano(), 36), Language: "python", Code: "print(1)",
		Options: onpyrunner.Options{CallbackURL: url}}
	if err := r.store.Submit(ctx, j); err != nil {
		t.Fatal(err)
	}
	c, err := r.store.Claim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Status, c.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "1\n"}
	if err := r.store.Finish(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// awaitOutcome waits for a try that ends want, after those awaited
// before.
func (r *rig) awaitOutcome(t *testing.T, want webhook.Outcome) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		for ; r.seen < len(r.outcomes); r.seen++ {
			if r.outcomes[r.seen] == want {
				r.seen++
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no try ended %s within 20s; outcomes %v", want, r.outcomes)
}

// owed says how many deliveries the store's outbox still holds, due or not.
func owed(t *testing.T, s *sqlite.Store) int {
	t.Helper()
	ds, err := s.ClaimDeliveries(t.Context(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// TestDeliver: a job that ends is POSTed once to its callback, signed,
// as the API shows it (no code), and the outbox holds nothing after.
func TestDeliver(t *testing.T) {
	recv := webhooktest.New(t)
	r := newRig(t, webhook.Config{AllowPrivate: true, FirstRetry: 50 * time.Millisecond})
	j := r.end(t, recv.URL+"/hook?token=abc")
	d := recv.Next(t, 20*time.Second)
	if d.Job.ID != j.ID || d.Job.Status != onpyrunner.Completed || d.Job.Result == nil || d.Job.Result.Stdout != "1\n" ||
		d.Job.Code != "" || d.Job.CallbackURL != j.CallbackURL || d.Attempt != 1 {
		t.Fatalf("delivered %+v (attempt %d)", d.Job, d.Attempt)
	}
	r.awaitOutcome(t, webhook.Delivered)
	time.Sleep(200 * time.Millisecond) // four retry waits: a second delivery would have come
	if n := recv.Count(); n != 1 {
		t.Fatalf("%d deliveries, want exactly 1", n)
	}
	if n := owed(t, r.store); n != 0 {
		t.Fatalf("the outbox still owes %d", n)
	}
}

// TestRetry: a receiver that fails gets the delivery again after the
// backoff, and only until it answers 2xx; a Retry-After is honoured.
func TestRetry(t *testing.T) {
	recv := webhooktest.New(t, 500, 503)
	r := newRig(t, webhook.Config{AllowPrivate: true, FirstRetry: 50 * time.Millisecond})
	j := r.end(t, recv.URL)
	var at []time.Time
	for i := 1; i <= 3; i++ {
		d := recv.Next(t, 20*time.Second)
		if d.Job.ID != j.ID || d.Attempt != i {
			t.Fatalf("delivery %d: job %s attempt %d", i, d.Job.ID, d.Attempt)
		}
		at = append(at, d.At)
	}
	r.awaitOutcome(t, webhook.Delivered)
	// The waits: 50 ms, then 100 ms, 10% either way (and a poll late at most).
	if w := at[1].Sub(at[0]); w < 45*time.Millisecond {
		t.Errorf("first retry after %v, want 50ms at least", w)
	}
	if w := at[2].Sub(at[1]); w < 90*time.Millisecond {
		t.Errorf("second retry after %v, want 100ms at least", w)
	}
	time.Sleep(400 * time.Millisecond)
	if n := recv.Count(); n != 3 {
		t.Fatalf("%d deliveries, want 3 (two failures, then the one answered 200)", n)
	}

	slow := webhooktest.New(t, http.StatusTooManyRequests) // with Retry-After: 1
	r.end(t, slow.URL)
	first, second := slow.Next(t, 20*time.Second), slow.Next(t, 20*time.Second)
	if w := second.At.Sub(first.At); w < 900*time.Millisecond {
		t.Fatalf("after a 429 with Retry-After: 1, retried after %v", w)
	}
}

// TestGiveUp: after Tries failures the delivery is dropped; a 410 drops it
// at once.
func TestGiveUp(t *testing.T) {
	recv := webhooktest.New(t, 500, 500, 500, 500)
	r := newRig(t, webhook.Config{AllowPrivate: true, FirstRetry: 20 * time.Millisecond, Tries: 2})
	r.end(t, recv.URL)
	recv.Next(t, 20*time.Second)
	recv.Next(t, 20*time.Second)
	r.awaitOutcome(t, webhook.GaveUp)
	time.Sleep(200 * time.Millisecond)
	if n := recv.Count(); n != 2 {
		t.Fatalf("%d tries, want 2", n)
	}
	gone := webhooktest.New(t, http.StatusGone)
	r.end(t, gone.URL)
	gone.Next(t, 20*time.Second)
	r.awaitOutcome(t, webhook.GaveUp)
	if n := owed(t, r.store); n != 0 {
		t.Fatalf("the outbox still owes %d", n)
	}
}

// TestRefusePrivate: without AllowPrivate, a callback whose name resolves
// to loopback is refused when the deliverer connects, and never reaches
// the receiver; a redirect to it is not followed.
func TestRefusePrivate(t *testing.T) {
	recv := webhooktest.New(t)
	_, port, _ := net.SplitHostPort(recv.Listener.Addr().String())
	r := newRig(t, webhook.Config{FirstRetry: 20 * time.Millisecond})
	r.end(t, "http://localhost:"+port+"/hook")
	r.awaitOutcome(t, webhook.Refused)
	if n := recv.Count(); n != 0 {
		t.Fatalf("the receiver on loopback got %d deliveries", n)
	}
	if n := owed(t, r.store); n != 0 {
		t.Fatalf("the outbox still owes %d", n)
	}
}

// TestNoRedirect: a receiver that redirects has failed its try; the
// deliverer does not follow it elsewhere.
func TestNoRedirect(t *testing.T) {
	target := webhooktest.New(t)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	r := newRig(t, webhook.Config{AllowPrivate: true, FirstRetry: time.Hour})
	r.end(t, redirect.URL)
	r.awaitOutcome(t, webhook.Retried)
	if n := target.Count(); n != 0 {
		t.Fatalf("the redirect was followed: %d deliveries", n)
	}
}

// TestStopInFlight: Run's end stops a delivery in flight at once and
// leaves it owed, unsettled, for its lease to bring back.
func TestStopInFlight(t *testing.T) {
	recv := webhooktest.New(t, 0) // no answer
	r := newRig(t, webhook.Config{AllowPrivate: true, Timeout: time.Minute})
	r.end(t, recv.URL)
	recv.Next(t, 20*time.Second)
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its end with a delivery in flight")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.outcomes) != 0 {
		t.Fatalf("the stopped try was settled: %v", r.outcomes)
	}
}

// TestPerHost: a receiver that never answers holds PerHost deliveries at
// once, not every one the deliverer may make: a delivery to another host
// is made meanwhile, and those put off count no tries.
func TestPerHost(t *testing.T) {
	stuck := webhooktest.New(t, 0, 0, 0, 0, 0, 0)
	fine := webhooktest.New(t)
	r := newRig(t, webhook.Config{AllowPrivate: true, Timeout: time.Minute, Parallel: 4, PerHost: 2, FirstRetry: 50 * time.Millisecond})
	var held []*onpyrunner.Job
	for range 6 {
		held = append(held, r.end(t, stuck.URL))
	}
	stuck.Next(t, 20*time.Second)
	stuck.Next(t, 20*time.Second)
	j := r.end(t, fine.URL)
	if d := fine.Next(t, 20*time.Second); d.Job.ID != j.ID {
		t.Fatalf("delivered %s, want %s", d.Job.ID, j.ID)
	}
	time.Sleep(200 * time.Millisecond) // four pauses: a third would have come
	if n := stuck.Count(); n != 2 {
		t.Fatalf("%d deliveries in flight to one host, want 2", n)
	}
	// Each was claimed every pause (50 ms), and put off: had those counted,
	// each would be at 4 tries or more by now; one may be claimed this
	// moment.
	for _, h := range held {
		st, err := r.store.DeliveryOf(t.Context(), h.ID)
		if err != nil || st == nil {
			t.Fatal(st, err)
		}
		if st.Tries > 1 {
			t.Fatalf("a held delivery counts %d tries", st.Tries)
		}
	}
}
