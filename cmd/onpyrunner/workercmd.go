package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/onpyrunner/onpyrunner/metrics"
)

func workerCmd(ctx context.Context, args []string, env func(string) string, _ io.Reader, _, stderr io.Writer) int {
	fs := newFlagSet("worker", "--redis URL [flags]", stderr)
	var f backendFlags
	f.register(fs, true)
	slots := fs.Int("slots", runtime.NumCPU(), "jobs run at once")
	drain := fs.Duration("drain", 30*time.Second, "on SIGTERM, how long running jobs may finish")
	addr := fs.String("metrics-addr", "", "where to serve /metrics and /healthz (empty: nowhere)")
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.logLevel}))
	if err := runWorker(ctx, f, *slots, *drain, *addr, log); err != nil {
		log.Error("worker", "err", err)
		return 1
	}
	return 0
}

func runWorker(ctx context.Context, f backendFlags, slots int, drain time.Duration, addr string, log *slog.Logger) error {
	if f.redis == "" {
		return errors.New("--redis is required: a worker takes its jobs from Redis (on one machine, serve runs its own)")
	}
	if slots < 1 {
		return errors.New("--slots must be at least 1")
	}
	b, err := openBackend(ctx, f, log)
	if err != nil {
		return err
	}
	defer b.store.Close()
	m := metrics.New(b.store.Stats)
	w, err := newWorkers(ctx, b, f, slots, drain, m, log)
	if err != nil {
		return err
	}
	log.Info("worker", "slots", slots, "runtimes", w.runtimes)
	if addr == "" {
		return runParts(ctx, w.parts...)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return listenAndServe(ctx, log, httpService{addr: addr, handler: mux, writeTimeout: time.Minute}, w.parts...)
}
