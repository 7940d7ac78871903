package api

import (
	"context"
	"encoding/json"
	"errors"
	"golang.org/x/sync/semaphore"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// Runtime is a language that the server runs, as GET /api/runtimes lists it.
type Runtime = onpyrunner.Runtime

// Config configures the API; its zero value works.
type Config struct {
	// Runtimes are the languages offered; python, when offered, is the
	// default. Default: python alone, version unknown.
	Runtimes []Runtime
	// RuntimeSource, when set, says which languages the live workers offer
	// (an API process without workers of its own); Runtimes is the answer
	// until a worker has said.
	RuntimeSource func(context.Context) ([]Runtime, error)
	// MaxCodeBytes caps the code of a job. Default 128 KiB.
	MaxCodeBytes int64
	// MaxInputBytes caps the stdin of a job (its tests' inputs and
	// expected outputs in all). Default 8 MiB.
	MaxInputBytes int64
	// MaxTests caps the tests of a job. Default 100.
	MaxTests int
	// MaxBatch caps the jobs of a batch. Default 100.
	MaxBatch int
	// DefaultLimits are a job's limits where it names none. Default
	// onpyrunner.DefaultLimits.
	DefaultLimits onpyrunner.Limits
	// MaxLimits are the most a job may ask for; each field left zero is
	// DefaultMaxLimits's (time 10 s, wall time 30 s, memory 512 MiB,
	// output 1 MiB, processes 64).
	MaxLimits onpyrunner.Limits
	// ReadingBytes bounds the memory of submissions being read and decoded
	// at once: each holds its Content-Length (the largest body allowed when
	// it sends none) until it is queued; one that does not fit gets 503
	// with Retry-After. Default 32 MiB; never less than one largest body.
	ReadingBytes int64
	// MaxWait is the longest ?wait= honoured. Default 60s.
	MaxWait time.Duration
	// InteractiveWallTime is an interactive job's wall limit where it
	// names none, and the most it may ask for: its wall clock runs while
	// it waits for its client's input. Default 5 minutes.
	InteractiveWallTime time.Duration
	// AttachTimeout is how long a running interactive job waits for a
	// client to attach, as the workers apply it (GET /api/runtimes tells
	// clients). Default 30s.
	AttachTimeout time.Duration
	// Webhooks says that the server delivers webhooks (a
	// webhook.Deliverer runs over its store): a job or a batch may then
	// carry a callbackUrl, which is refused otherwise. WebhookPrivate lets
	// that URL name an address that is not public (webhook.CheckURL).
	Webhooks, WebhookPrivate bool
	// SubmitRate caps each client's (each remote address, or see TrustedProxies) submissions
	// per second, with bursts of SubmitBurst; beyond, 429. Default 0: no cap.
	SubmitRate  float64
	SubmitBurst int
	// TrustedProxies are the load balancers and proxies in front of the
	// server: from a peer in them, the client is the nearest address of
	// X-Forwarded-For outside them (for the rate limit). Default none: the
	// peer is the client, and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// Web, when set, serves the playground page at / and its files under
	// /assets/. Default: a short page that points to the API.
	Web http.Handler
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMaxLimits are the Config.MaxLimits default.
var DefaultMaxLimits = onpyrunner.Limits{TimeMs: 10000, WallTimeMs: 30000, MemoryMB: 512, OutputKB: 1024, Processes: 64}

func (c Config) withDefaults() Config {
	if len(c.Runtimes) == 0 {
		c.Runtimes = []Runtime{{Language: "python"}}
	}
	if c.MaxCodeBytes <= 0 {
		c.MaxCodeBytes = 128 << 10
	}
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = 8 << 20
	}
	if c.MaxTests <= 0 {
		c.MaxTests = 100
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 100
	}
	if c.DefaultLimits == (onpyrunner.Limits{}) {
		c.DefaultLimits = onpyrunner.DefaultLimits
	}
	c.DefaultLimits = c.DefaultLimits.WithDefaults()
	// A maximum left zero is the default's, never "no maximum".
	c.MaxLimits = c.MaxLimits.Or(DefaultMaxLimits)
	if c.ReadingBytes <= 0 {
		c.ReadingBytes = 32 << 20
	}
	// Room for one body of the largest size at least.
	c.ReadingBytes = max(c.ReadingBytes, maxBody(c))
	if c.MaxWait <= 0 {
		c.MaxWait = time.Minute
	}
	if c.InteractiveWallTime <= 0 {
		c.InteractiveWallTime = 5 * time.Minute
	}
	if c.AttachTimeout <= 0 {
		c.AttachTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server is the API's http.Handler.
type Server struct {
	store onpyrunner.Store
	cfg   Config
	mux   *http.ServeMux
	limit *limiter
	langs *runtimeCache
	// reading holds the bytes of the submissions being read (ReadingBytes).
	reading *semaphore.Weighted
	// drained ends when Drain is called.
	drained context.Context
	drain   context.CancelFunc
}

// New returns the API over store.
func New(store onpyrunner.Store, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{store: store, cfg: cfg, mux: http.NewServeMux(),
		limit:   newLimiter(cfg.SubmitRate, cfg.SubmitBurst, cfg.TrustedProxies),
		langs:   &runtimeCache{static: onpyrunner.MarkDefaults(cfg.Runtimes), source: cfg.RuntimeSource},
		reading: semaphore.NewWeighted(cfg.ReadingBytes)}
	s.drained, s.drain = context.WithCancel(context.Background())
	s.routes()
	return s
}

// storeTimeout bounds one store call of a request.
const storeTimeout = 10 * time.Second

// storeCtx is the context of a request's store calls: the request's values
// but not its cancel, since a client that half-closes its side after
// sending is still there to read the answer, and a job that was accepted
// must be answered, not turned into an error.
func storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
}

// Drain tells the server that it is shutting down: from now on readyz
// answers 503, a submission gets 503 with Retry-After before anything is
// accepted, and waits and event streams end at once with the job as it
// stands; reads go on, so that load balancers see the drain.
func (s *Server) Drain() { s.drain() }

// draining reports whether Drain was called.
func (s *Server) draining() bool { return s.drained.Err() != nil }

// WriteTimeout is the write timeout an http.Server needs for this API: the
// longest wait and then some. Event streams extend their own deadline.
func (s *Server) WriteTimeout() time.Duration { return s.cfg.MaxWait + 15*time.Second }

// ServeHTTP serves the API; a panic in a handler becomes a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.fail(w, errors.New("panic"))
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p := r.URL.Path; p != "" && path.Clean(p) != strings.TrimSuffix(p, "/") && p != "/" {
		// The mux would answer a 307 HTML redirect, even to a POST.
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no such endpoint: %s %s (a path is taken as sent, without // or . or ..)", r.Method, p))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// status is the HTTP status of each error code.
var status = map[onpyrunner.Code]int{
	onpyrunner.CodeInvalid:     http.StatusBadRequest,
	onpyrunner.CodeNotFound:    http.StatusNotFound,
	onpyrunner.CodeMethod:      http.StatusMethodNotAllowed,
	onpyrunner.CodeTooLarge:    http.StatusRequestEntityTooLarge,
	onpyrunner.CodeTooMany:     http.StatusTooManyRequests,
	onpyrunner.CodeQueueFull:   http.StatusServiceUnavailable,
	onpyrunner.CodeUnavailable: http.StatusServiceUnavailable,
	onpyrunner.CodeInternal:    http.StatusInternalServerError,
}

// fail writes err as the API's JSON error: an *onpyrunner.Error as it is,
// anything else as a 500 that tells nothing of our internals.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var e *onpyrunner.Error
	if !errors.As(err, &e) {
		if !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Error("internal error", "err", err)
		}
		e = onpyrunner.Errorf(onpyrunner.CodeInternal, "something went wrong on our side; try again")
	}
	WriteError(w, e)
}

// WriteError writes e as the API's JSON error envelope, with the HTTP
// status of its code (and Retry-After where the client should come back):
// the one error answer of everything the server serves, the page too.
func WriteError(w http.ResponseWriter, e *onpyrunner.Error) {
	code, ok := status[e.Code]
	if !ok {
		code = http.StatusInternalServerError
	}
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, map[string]*onpyrunner.Error{"error": e})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
