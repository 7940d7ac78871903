package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// Config configures a Deliverer; its zero value works but for Secret.
type Config struct {
	// Secret signs every delivery (Sign). Required.
	Secret []byte
	// AllowPrivate lets deliveries reach addresses Forbidden refuses
	// (loopback, private, link-local): for a receiver on the server's own
	// network, and for tests.
	AllowPrivate bool
	// Timeout bounds each try, from connecting to the answer's headers.
	// Default 10s.
	Timeout time.Duration
	// Tries is how many times a delivery is tried before it is given up.
	// Default 10.
	Tries int
	// FirstRetry is the wait after a first failed try; each later wait
	// doubles it (with 10% jitter), so that the default 10 tries at 7s
	// span about an hour. Default 7s.
	FirstRetry time.Duration
	// Parallel caps the deliveries in flight. Default 16.
	Parallel int
	// PerHost caps the deliveries in flight to one host (the callback
	// URL's host and port), so that a slow receiver cannot hold every
	// delivery up: one beyond it is put off for a moment, its try not
	// counted. Default 4.
	PerHost int
	// Observe, when set, hears of each try's outcome (an Outcome) and,
	// for one delivered, the time since the job ended.
	Observe func(o Outcome, sinceEnd time.Duration)
	// Logger hears of deliveries given up. Default slog.Default().
	Logger *slog.Logger
}

// Outcome is how a try of a delivery went.
type Outcome string

// The outcomes.
const (
	// Delivered: the receiver answered 2xx.
	Delivered Outcome = "delivered"
	// Retried: the try failed and the delivery is due again later.
	Retried Outcome = "retried"
	// GaveUp: the last try failed, or the receiver answered 410 Gone.
	GaveUp Outcome = "gave_up"
	// Refused: the URL leads to an address that is not public.
	Refused Outcome = "refused"
	// Gone: the job is no longer in the store.
	Gone Outcome = "gone"
)

// Jobs is where a Deliverer reads the jobs it delivers.
type Jobs interface {
	Get(ctx context.Context, id string) (*onpyrunner.Job, error)
}

// Deliverer makes the deliveries the store's outbox owes. Any number of
// processes may run one over the same store: each delivery is claimed
// for a lease (2×Timeout + 5s) before it is made, so that one process
// makes it at a time, and a process that dies leaves it to another (or
// to itself after a restart) once the lease ends.
type Deliverer struct {
	cfg    Config
	jobs   Jobs
	outbox onpyrunner.Outbox
	client *http.Client

	mu    sync.Mutex
	hosts map[string]int // the deliveries in flight to each host
}

// New returns a Deliverer of outbox's deliveries of jobs.
func New(jobs Jobs, outbox onpyrunner.Outbox, cfg Config) *Deliverer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 10
	}
	if cfg.FirstRetry <= 0 {
		cfg.FirstRetry = 7 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = 4
	}
	if cfg.Observe == nil {
		cfg.Observe = func(Outcome, time.Duration) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.Control = Guard
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would connect where the guard cannot see
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Deliverer{cfg: cfg, jobs: jobs, outbox: outbox, hosts: map[string]int{}, client: &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is a failed try: following it would take the body
		// where its sender did not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (d *Deliverer) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

// Run makes deliveries as they come due until ctx ends, then stops those
// in flight (their leases bring them back, to this process after a
// restart or to another) and returns. A delivery never holds up a job:
// deliveries run on their own, Parallel at most.
func (d *Deliverer) Run(ctx context.Context) error {
	slots := make(chan struct{}, d.cfg.Parallel)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for ctx.Err() == nil {
		free := cap(slots) - len(slots)
		if free == 0 {
			select { // one ends, or ctx
			case slots <- struct{}{}:
				<-slots
			case <-ctx.Done():
			}
			continue
		}
		ds, err := d.outbox.ClaimDeliveries(ctx, free, d.lease())
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Warn("webhook: claim deliveries", "err", err)
		}
		for _, dv := range ds {
			slots <- struct{}{}
			inFlight.Go(func() {
				defer func() { <-slots }()
				d.deliver(ctx, dv)
			})
		}
		if len(ds) < free {
			d.outbox.AwaitDeliveries(ctx, d.tick())
		}
	}
	return nil
}

// tick is the deliverer's short wait: the longest it goes without looking
// for deliveries due, and how long one to a host with PerHost deliveries
// in flight is put off.
func (d *Deliverer) tick() time.Duration { return min(time.Second, d.cfg.FirstRetry) }

// storeContext bounds what the store hears of a try, even when Run (run)
// is ending.
func storeContext(run context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(run), 5*time.Second)
}

// take counts a delivery to host in flight, unless PerHost are already;
// it says whether it did.
func (d *Deliverer) take(host string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hosts[host] >= d.cfg.PerHost {
		return false
	}
	d.hosts[host]++
	return true
}

// give ends a delivery to host that take counted.
func (d *Deliverer) give(host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hosts[host]--; d.hosts[host] <= 0 {
		delete(d.hosts, host)
	}
}

// hostOf is the host and port of a callback URL ("" for one that does not
// parse: its try fails on its own).
func hostOf(callback string) string {
	u, err := url.Parse(callback)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// deliver makes one try of dv and settles it: made, given up, or due
// again after its backoff; or puts it off, untried, when its host has
// PerHost deliveries in flight.
func (d *Deliverer) deliver(run context.Context, dv onpyrunner.Delivery) {
	try, cancel := context.WithTimeout(run, d.lease())
	defer cancel()
	j, err := d.jobs.Get(try, dv.JobID)
	out, after, why := Gone, time.Duration(0), "the job is no longer kept"
	switch {
	case err == nil:
		host := hostOf(j.CallbackURL)
		if !d.take(host) {
			ctx, cancelDefer := storeContext(run)
			defer cancelDefer()
			if err := d.outbox.DeferDelivery(ctx, dv, d.tick()); err != nil {
				d.cfg.Logger.Warn("webhook: put off a delivery (its lease brings it back)", "job", dv.JobID, "err", err)
			}
			return
		}
		defer d.give(host)
		out, after, why = d.post(try, j, dv.Tries)
	case !onpyrunner.HasCode(err, onpyrunner.CodeNotFound):
		out, why = Retried, err.Error()
	}
	if out != Delivered && run.Err() != nil {
		return // stopped by Run's end: its lease brings it back
	}
	ctx, cancelSettle := storeContext(run)
	defer cancelSettle()
	if out != Delivered {
		d.settle(ctx, dv, out, after, why)
		return
	}
	var since time.Duration
	if j.FinishedAt != nil {
		since = time.Since(*j.FinishedAt)
	}
	d.cfg.Observe(out, since)
	if err := d.outbox.SettleDelivery(ctx, dv, onpyrunner.Delivered, ""); err != nil {
		d.cfg.Logger.Warn("webhook: delivered, but the outbox did not hear so (it may be sent again)", "job", dv.JobID, "err", err)
	}
}

// settle records a try that did not deliver: a Retried one is due again
// after its backoff (or the receiver's Retry-After, when later), unless it
// was the last try.
func (d *Deliverer) settle(ctx context.Context, dv onpyrunner.Delivery, out Outcome, after time.Duration, why string) {
	if out == Retried && dv.Tries >= d.cfg.Tries {
		out = GaveUp
	}
	d.cfg.Observe(out, 0)
	if out != Retried {
		d.cfg.Logger.Info("webhook: delivery not made", "job", dv.JobID, "tries", dv.Tries, "outcome", out, "why", why)
		if err := d.outbox.SettleDelivery(ctx, dv, onpyrunner.DeliveryFailed, why); err != nil {
			d.cfg.Logger.Warn("webhook: settle delivery", "job", dv.JobID, "err", err)
		}
		return
	}
	wait := max(d.backoff(dv.Tries), after)
	if err := d.outbox.RetryDelivery(ctx, dv, wait, why); err != nil {
		d.cfg.Logger.Warn("webhook: retry delivery (its lease will bring it back)", "job", dv.JobID, "err", err)
	}
}

// backoff is the wait after failed try n (from 1): FirstRetry doubled
// n-1 times, 10% either way.
func (d *Deliverer) backoff(n int) time.Duration {
	w := d.cfg.FirstRetry << min(n-1, 20)
	return time.Duration(float64(w) * (0.9 + 0.2*rand.Float64()))
}

// post makes one try: the job's object, signed. It says how it went,
// the receiver's Retry-After (capped at an hour) and why it failed.
func (d *Deliverer) post(ctx context.Context, j *onpyrunner.Job, try int) (Outcome, time.Duration, string) {
	body, err := json.Marshal(j.Public(false))
	if err != nil {
		return GaveUp, 0, err.Error()
	}
	if err := CheckURL(j.CallbackURL, d.cfg.AllowPrivate); err != nil {
		return Refused, 0, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return GaveUp, 0, err.Error()
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OnPyRunner-Webhook/1")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, Sign(d.cfg.Secret, ts, body))
	req.Header.Set(AttemptHeader, strconv.Itoa(try))
	resp, err := d.client.Do(req)
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // without the URL, which may hold its receiver's token, for the logs
	}
	if re, ok := errors.AsType[*RefusedError](err); ok {
		return Refused, 0, re.Error()
	} else if err != nil {
		return Retried, 0, err.Error()
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) // so that the connection is kept
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Delivered, 0, ""
	case resp.StatusCode == http.StatusGone:
		return GaveUp, 0, "the receiver answered 410 Gone"
	}
	after := time.Duration(0)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = min(time.Duration(s)*time.Second, time.Hour)
	}
	return Retried, after, "the receiver answered " + resp.Status
}
