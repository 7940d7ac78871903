package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/metrics"
	"github.com/onpyrunner/onpyrunner/web"
	"github.com/onpyrunner/onpyrunner/webhook"
	"golang.org/x/sync/errgroup"
)

// serveFlags are the settings of `onpyrunner serve`.
type serveFlags struct {
	backendFlags
	addr                                    string
	slots                                   int
	drain, maxWait, unready                 time.Duration
	interactiveWall                         time.Duration
	maxCode, maxInput, maxMemory, maxOutput *sizeFlag
	reading                                 *sizeFlag
	maxTime, maxWall                        time.Duration
	maxProcesses                            int64
	rate                                    float64
	trusted                                 prefixesFlag
	burst                                   int
	webhooks                                webhookFlags
}

// webhookFlags are the settings of the webhook deliveries of `serve`.
type webhookFlags struct {
	secret         string
	allowPrivate   bool
	timeout, retry time.Duration
	tries          int
}

func (f *webhookFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.secret, "webhook-secret", "", "the secret that signs webhook deliveries (best given as ONPYRUNNER_WEBHOOK_SECRET); without one, jobs may not carry a callbackUrl")
	fs.BoolVar(&f.allowPrivate, "webhook-allow-private", false, "let callback URLs reach loopback, private and link-local addresses (refused by default)")
	fs.DurationVar(&f.timeout, "webhook-timeout", 10*time.Second, "how long a webhook receiver has to answer each try")
	fs.DurationVar(&f.retry, "webhook-retry", 7*time.Second, "the wait after a webhook's first failed try; it doubles after each")
	fs.IntVar(&f.tries, "webhook-tries", 10, "tries of a webhook delivery before it is given up")
}

// deliverer is the part of serve that makes the webhook deliveries its
// store owes.
func (f *webhookFlags) deliverer(store onpyrunner.Store, m *metrics.Metrics, log *slog.Logger) func(context.Context) error {
	outbox, _ := store.(onpyrunner.Outbox) // both stores are
	return webhook.New(store, outbox, webhook.Config{
		Secret: []byte(f.secret), AllowPrivate: f.allowPrivate, Timeout: f.timeout, Tries: f.tries, FirstRetry: f.retry,
		Observe: m.Webhook, Logger: log,
	}).Run
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	m := api.DefaultMaxLimits
	f.backendFlags.register(fs, false)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (:8080 for every interface: see the README first)")
	fs.IntVar(&f.slots, "slots", runtime.NumCPU(), "jobs run at once (0: API only, with --redis)")
	fs.DurationVar(&f.drain, "drain", 30*time.Second, "on SIGTERM, how long running jobs may finish")
	fs.DurationVar(&f.unready, "shutdown-delay", 3*time.Second, "on SIGTERM, how long the server goes on answering (readyz 503, reads, no new jobs) before it closes its listener")
	fs.DurationVar(&f.maxWait, "max-wait", time.Minute, "longest ?wait= honoured")
	f.maxCode, f.maxInput = newSize(128<<10, 1), newSize(8<<20, 1)
	fs.Var(f.maxCode, "max-code", "largest code accepted (413 beyond)")
	fs.Var(f.maxInput, "max-input", "largest stdin accepted (413 beyond)")
	f.reading = newSize(32<<20, 1)
	fs.Var(f.reading, "reading-memory", "most bytes of submissions read at once (503 with Retry-After beyond; at least one largest body)")
	fs.DurationVar(&f.maxTime, "max-time", m.CPUTime(), "most CPU time a job may ask for")
	fs.DurationVar(&f.maxWall, "max-wall-time", m.WallTime(), "most wall time a job may ask for")
	fs.DurationVar(&f.interactiveWall, "interactive-wall-time", 5*time.Minute, "an interactive job's wall time limit, and the most it may ask for (its clock runs while it waits for input)")
	f.maxMemory, f.maxOutput = newSize(m.MemoryMB, 1<<20), newSize(m.OutputKB, 1<<10)
	fs.Var(f.maxMemory, "max-memory", "most memory a job may ask for (whole MiB)")
	fs.Var(f.maxOutput, "max-output", "largest output cap a job may ask for (whole KiB)")
	fs.Int64Var(&f.maxProcesses, "max-processes", m.Processes, "most processes a job may ask for")
	fs.Float64Var(&f.rate, "rate", 0, "submissions per second per client address, 429 beyond (0: no cap)")
	fs.IntVar(&f.burst, "burst", 20, "with --rate, the burst a client may send at once")
	f.webhooks.register(fs)
	fs.Var(&f.trusted, "trusted-proxies", "CIDRs of the proxies in front (comma-separated): from them, --rate's client is the nearest X-Forwarded-For address outside them")
}

func serveCmd(ctx context.Context, args []string, env func(string) string, _ io.Reader, _, stderr io.Writer) int {
	fs := newFlagSet("serve", "[flags]", stderr)
	var f serveFlags
	f.register(fs)
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.logLevel}))
	if err := serve(ctx, f, log); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, f serveFlags, log *slog.Logger) error {
	if f.slots < 0 || (f.slots == 0 && f.redis == "") {
		return errors.New("--slots must be at least 1: with the embedded store, this process runs the jobs (--slots 0 needs --redis)")
	}
	b, err := openBackend(ctx, f.backendFlags, log)
	if err != nil {
		return err
	}
	defer b.store.Close()
	m := metrics.New(b.store.Stats)
	cfg := api.Config{
		MaxCodeBytes:  f.maxCode.units(),
		MaxInputBytes: f.maxInput.units(),
		ReadingBytes:  f.reading.units(),
		MaxLimits: onpyrunner.Limits{TimeMs: ms(f.maxTime), WallTimeMs: ms(f.maxWall),
			MemoryMB: f.maxMemory.units(), OutputKB: f.maxOutput.units(), Processes: f.maxProcesses},
		MaxWait:             f.maxWait,
		InteractiveWallTime: f.interactiveWall,
		AttachTimeout:       f.attachTimeout,
		SubmitRate:          f.rate,
		SubmitBurst:         f.burst,
		TrustedProxies:      f.trusted,
		Metrics:             m.Handler(),
		Web:                 web.Handler(),
		Logger:              log,
		Webhooks:            f.webhooks.secret != "",
		WebhookPrivate:      f.webhooks.allowPrivate,
	}
	parts := b.parts
	if cfg.Webhooks {
		parts = append(parts, f.webhooks.deliverer(b.store, m, log))
		if b.redis != nil {
			parts = append(parts, func(ctx context.Context) error {
				return watchSigners(ctx, b.redis, webhook.Fingerprint([]byte(f.webhooks.secret)), signersEvery, log)
			})
		}
	}
	if f.slots > 0 {
		w, err := newWorkers(ctx, b, f.backendFlags, f.slots, f.drain, m, log)
		if err != nil {
			return err
		}
		cfg.Runtimes = w.runtimes
		parts = append(parts, w.parts...)
	} else {
		cfg.RuntimeSource = b.redis.Runtimes
	}
	handler := api.New(b.store, cfg)
	return listenAndServe(ctx, log, httpService{addr: f.addr, handler: handler,
		writeTimeout: handler.WriteTimeout(), drain: handler.Drain, unready: f.unready}, parts...)
}

// runParts runs long-lived parts until ctx ends or one fails.
func runParts(ctx context.Context, parts ...func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range parts {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}

// httpService is what listenAndServe serves.
type httpService struct {
	addr         string
	handler      http.Handler
	writeTimeout time.Duration
	// drain, when set, is called first on shutdown (the API's Drain).
	drain func()
	// unready is how long the server goes on answering after drain, with
	// keep-alives off, before it closes its listener: load balancers see
	// readyz turn 503 and send new work elsewhere.
	unready time.Duration
}

// listenAndServe serves h with the given long-lived parts until ctx ends,
// then shuts down: h drains (readyz says 503, waits and streams end with
// the job as it stands, new jobs are refused) and goes on answering for
// h.unready, then stops taking connections and lets the requests in
// flight finish; the parts finish meanwhile (the workers drain).
func listenAndServe(ctx context.Context, log *slog.Logger, h httpService, parts ...func(context.Context) error) error {
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return err
	}
	reqCtx, stopRequests := context.WithCancel(context.Background())
	defer stopRequests()
	srv := &http.Server{
		Handler:           h.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      h.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "url", "http://"+ln.Addr().String())
	serveHTTP := func(context.Context) error {
		if err := srv.Serve(api.ProtocolErrors(ln)); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	shutdown := func(ctx context.Context) error {
		<-ctx.Done()
		log.Info("shutting down", "answering for", h.unready)
		if h.drain != nil {
			h.drain()
		}
		srv.SetKeepAlivesEnabled(false)
		time.Sleep(h.unready)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		stopRequests() // what is still in flight after that
		return err
	}
	return runParts(ctx, append(parts, serveHTTP, shutdown)...)
}
