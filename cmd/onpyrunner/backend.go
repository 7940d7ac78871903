package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/redis"
	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/worker"
)

// backendFlags choose and shape the job store: the embedded one in a
// folder, or Redis.
type backendFlags struct {
	data, redis      string
	queue            int
	retention, lease time.Duration
	attachTimeout    time.Duration
	cold             bool
	warmRuntimes     int
	warmIdle         time.Duration
	runtimes         string
	logLevel         slog.Level
	storeBytes       *sizeFlag
}

// register adds the flags; a worker (which takes jobs from Redis and
// submits none) has no embedded store and no queue cap.
func (f *backendFlags) register(fs *flag.FlagSet, worker bool) {
	if !worker {
		fs.StringVar(&f.data, "data", "./data", "folder of the embedded job store (without --redis)")
		fs.IntVar(&f.queue, "queue", 1000, "most jobs queued at once; beyond, submissions get 503")
		f.storeBytes = newSize(0, 1)
		fs.Var(f.storeBytes, "store-bytes", "the job store's byte budget; beyond, submissions get 503 (0: a quarter of --data's disk, or 90% of Redis's maxmemory)")
	}
	fs.StringVar(&f.redis, "redis", "", "Redis URL (redis://host:6379/0) of the shared job store: the distributed mode")
	fs.DurationVar(&f.retention, "retention", 0, "how long finished jobs are kept (0: 24h; with --redis, 0 is the setting kept in Redis, which a process given --retention sets for all)")
	fs.DurationVar(&f.lease, "lease", 30*time.Second, "with --redis: how long a silent worker keeps its job before another takes it over")
	fs.StringVar(&f.runtimes, "runtimes", runtimes.DefaultDir, "folder of the runtimes built with 'onpyrunner runtime add' (offered beside the host's python3 and pypy3)")
	fs.BoolVar(&f.cold, "cold", false, "run every job with a fresh interpreter, not in a warm sandbox (slower)")
	fs.IntVar(&f.warmRuntimes, "warm-runtimes", 3, "warm zygotes each slot keeps at once, one per runtime (the default python's stays; one more closes the least recently used)")
	fs.DurationVar(&f.warmIdle, "warm-idle", 10*time.Minute, "how long a slot keeps the warm zygote of a runtime that serves no job (the default python's stays)")
	fs.DurationVar(&f.attachTimeout, "attach-timeout", 30*time.Second, "how long a running interactive job waits for a client to attach before it ends failed")
	fs.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
}

// backend is an open job store and what must run beside it.
type backend struct {
	store onpyrunner.Store
	redis *redis.Store // when distributed
	parts []func(context.Context) error
}

func openBackend(ctx context.Context, f backendFlags, log *slog.Logger) (*backend, error) {
	if f.redis == "" {
		s, err := sqlite.Open(sqlite.Config{Dir: f.data, QueueCap: f.queue, Retention: f.retention, Logger: log, MaxBytes: f.storeBytes.units()})
		if err != nil {
			return nil, err
		}
		log.Info("job store", "embedded", f.data)
		return &backend{store: s, parts: []func(context.Context) error{s.Run}}, nil
	}
	s, err := redis.Open(ctx, redis.Config{URL: f.redis, QueueCap: f.queue, Retention: f.retention, Lease: f.lease, MaxBytes: f.storeBytes.units()})
	if err != nil {
		return nil, fmt.Errorf("%w (is Redis up at %s?)", err, f.redis)
	}
	log.Info("job store", "redis", f.redis)
	return &backend{store: s, redis: s}, nil
}

// workers are this process's worker slots and the languages they run.
type workers struct {
	runtimes []onpyrunner.Runtime
	parts    []func(context.Context) error
}

// runtimesEvery is how often a worker tells Redis its languages; they are
// forgotten three times that long after the last worker stops.
const runtimesEvery = 20 * time.Second

func newWorkers(ctx context.Context, b *backend, f backendFlags, slots int, drain time.Duration, obs worker.Observer, log *slog.Logger) (*workers, error) {
	sb, err := sandbox.New(sandbox.Config{Logger: log, Cold: f.cold, RuntimesDir: f.runtimes,
		WarmRuntimes: f.warmRuntimes, WarmIdle: f.warmIdle})
	if err != nil {
		return nil, err
	}
	w := &workers{runtimes: sb.Languages()}
	if len(w.runtimes) == 0 {
		return nil, errors.New("no runtime installed (python3 or pypy3)")
	}
	mode := "warm"
	if f.cold {
		mode = "cold"
	}
	var langs []string
	for _, rt := range w.runtimes {
		langs = append(langs, rt.Language+" "+rt.Version)
	}
	log.Info("sandbox", "slots", slots, "mode", mode, "cgroup", sb.CgroupVersion(), "landlock", sb.Landlock(),
		"runtimes", strings.Join(langs, ", "))
	if b.redis != nil {
		if err := b.redis.Serve(ctx, w.runtimes); err != nil {
			return nil, err
		}
	}
	pool := worker.New(b.store, worker.Config{Slots: slots, Drain: drain, Logger: log, Observer: obs,
		AttachTimeout: f.attachTimeout, NewRunner: func() worker.Runner { return sb.NewLane() }})
	w.parts = append(w.parts, func(ctx context.Context) error {
		err := pool.Run(ctx) // returns once every slot has stopped
		if cerr := sb.Close(); cerr != nil {
			log.Warn("sandbox: clean up", "err", cerr)
		}
		return err
	})
	if b.redis != nil {
		w.parts = append(w.parts, func(ctx context.Context) error {
			return publishing(ctx, runtimesEvery, "publish runtimes", log, func(ctx context.Context) error {
				return b.redis.PublishRuntimes(ctx, w.runtimes, 3*runtimesEvery)
			})
		})
	}
	return w, nil
}
