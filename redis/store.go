package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
	goredis "github.com/redis/go-redis/v9"
)

// Config configures a Store; its zero value works but for URL.
type Config struct {
	// URL is the Redis server's, e.g. redis://127.0.0.1:6379/0. Required.
	URL string
	// Prefix starts every key. Default "onpyrunner:".
	Prefix string
	// QueueCap is the most jobs queued at once. Default 1000.
	QueueCap int
	// Retention is how long a finished job is kept. One setting for all
	// the processes that share the Redis: Open with Retention set stores
	// it there, and every process reads it there. Zero: what Redis holds,
	// else 24h.
	Retention time.Duration
	// EventsTTL is how long a finished job's live log is kept for late
	// subscribers (its result holds the output after that). Default 10m.
	EventsTTL time.Duration
	// Lease is how long a running job's queue entry may go unrenewed before
	// another worker takes the job over. Default 30s.
	Lease time.Duration
	// MaxAttempts is how many times a job may be started before a job
	// whose workers keep dying ends failed. Default 3.
	MaxAttempts int
	// MaxBytes is the store's byte budget: once Redis's used memory is
	// this much, a submission gets 503 until the retention frees room.
	// Default: 90% of Redis's maxmemory, where it has one.
	MaxBytes int64
	// Consumer names this process in the queue's consumer group. Default:
	// host name, pid and a random suffix.
	Consumer string
	// PoolSize is the most connections to Redis; each blocked Claim holds
	// one, and all of this process's waiting Events share one. Default 256.
	PoolSize int
}

// Store is the Redis onpyrunner.Store.
type Store struct {
	cfg Config
	rdb *goredis.Client
	fan *fanout // the one reader of live logs for this process's waiters

	mu      sync.Mutex
	leases  map[string]lease // job id -> its lease renewal
	claimed time.Time        // the last look for expired leases began
	look    struct {         // where that look goes on: a queue of streams, and in it
		stream int
		cursor string // "" when no look is under way
	}
	streams []string // the queues Claim reads: of the runtimes served, and of jobs with no version
	mem     memory   // Redis's memory, a second old at most
}

var _ onpyrunner.Store = (*Store)(nil)

const group = "workers"

// Open connects to Redis and makes sure the queue's consumer group exists.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "onpyrunner:"
	}
	cfg.QueueCap = orInt(cfg.QueueCap, 1000)
	cfg.MaxAttempts = orInt(cfg.MaxAttempts, 3)
	cfg.PoolSize = orInt(cfg.PoolSize, 256)
	setRetention := cfg.Retention > 0
	cfg.Retention = orDur(cfg.Retention, 24*time.Hour)
	cfg.EventsTTL = orDur(cfg.EventsTTL, 10*time.Minute)
	cfg.Lease = orDur(cfg.Lease, 30*time.Second)
	if cfg.Consumer == "" {
		host, _ := os.Hostname()
		cfg.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:6])
	}
	// Fail fast when Redis is away: callers answer 503 rather than hang.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 3*time.Second, 3*time.Second
	opt.PoolTimeout, opt.MaxRetries, opt.PoolSize = 4*time.Second, 1, cfg.PoolSize
	s := &Store{cfg: cfg, rdb: goredis.NewClient(opt), leases: map[string]lease{}}
	s.fan = newFanout(s.rdb, s.key("wake", rand.Text()))
	s.streams = []string{queueKey(cfg.Prefix, onpyrunner.Runtime{})}
	if err := s.ensureGroups(ctx); err != nil {
		s.rdb.Close()
		return nil, err
	}
	if setRetention {
		if err := s.rdb.Set(ctx, s.key("retention"), seconds(cfg.Retention), 0).Err(); err != nil {
			s.rdb.Close()
			return nil, s.fail(err)
		}
	}
	return s, nil
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Serve says which runtimes this process's workers run: Claim takes only
// jobs of these (each runtime has a queue of its own, so that a job goes
// only to a worker that has its runtime), and jobs with no version (stored
// before jobs had versions). Call it before the first Claim; an API
// process needs none.
func (s *Store) Serve(ctx context.Context, rts []onpyrunner.Runtime) error {
	for _, rt := range rts {
		if q := queueKey(s.cfg.Prefix, rt); !slices.Contains(s.streams, q) {
			s.streams = append(s.streams, q)
		}
	}
	return s.ensureGroups(ctx)
}

// ensureGroups makes the consumer group of each queue this process reads.
func (s *Store) ensureGroups(ctx context.Context) error {
	for _, q := range s.streams {
		err := s.rdb.XGroupCreateMkStream(ctx, q, group, "0").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return s.fail(err)
		}
	}
	return nil
}

// queueKey is the queue of a job's runtime: every runtime (language and
// full version) has its own, so that a job goes only to a worker that has
// its runtime.
func (s *Store) queueKey(j *onpyrunner.Job) string {
	return queueKey(s.cfg.Prefix, onpyrunner.Runtime{Language: j.Language, Version: j.Version})
}

func queueKey(prefix string, rt onpyrunner.Runtime) string {
	if rt.Version == "" {
		return prefix + "queue"
	}
	return prefix + "queue:" + rt.Language + ":" + rt.Version
}

// Close stops the lease renewals and closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, l := range s.leases {
		l.stop()
	}
	s.mu.Unlock()
	return s.rdb.Close()
}

func (s *Store) key(parts ...string) string { return s.cfg.Prefix + strings.Join(parts, ":") }

func (s *Store) jobKeys(id string) (job, ev string) { return s.key("job", id), s.key("ev", id) }

// unavailable is the error of a store that Redis does not answer: a 503
// for the client, the cause for the logs.
type unavailable struct {
	public *onpyrunner.Error
	cause  error
}

func (e *unavailable) Error() string   { return "redis: " + e.cause.Error() }
func (e *unavailable) Unwrap() []error { return []error{e.public, e.cause} }

// internal is the error of a command Redis ran and refused (a script's
// error, a wrong type): our bug, a 500 for the client, never an outage.
type internal struct {
	public *onpyrunner.Error
	cause  error
}

func (e *internal) Error() string   { return "redis: " + e.cause.Error() }
func (e *internal) Unwrap() []error { return []error{e.public, e.cause} }

// transient are the prefixes of the errors Redis answers while it cannot
// serve for now (loading, a busy script, a failover): unavailable, not
// internal.
var transient = []string{"LOADING ", "BUSY ", "TRYAGAIN ", "MASTERDOWN ", "READONLY ", "CLUSTERDOWN "}

// fail turns a Redis error into the store's: ctx's own end stays as it is;
// a Redis at its maxmemory is unavailable and says so; another error Redis
// answered (a script's, say) is internal; anything else says the store is
// unavailable.
func (s *Store) fail(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if rerr, ok := errors.AsType[goredis.Error](err); ok && strings.HasPrefix(rerr.Error(), "OOM ") {
		return &unavailable{
			public: onpyrunner.Errorf(onpyrunner.CodeUnavailable, "the job store is full (Redis is at its maxmemory); try again later"),
			cause:  err,
		}
	}
	if rerr, ok := errors.AsType[goredis.Error](err); ok && !errors.Is(err, goredis.Nil) &&
		!slices.ContainsFunc(transient, func(p string) bool { return strings.HasPrefix(rerr.Error(), p) }) {
		return &internal{public: onpyrunner.Errorf(onpyrunner.CodeInternal, "the job store refused a command"), cause: err}
	}
	return &unavailable{
		public: onpyrunner.Errorf(onpyrunner.CodeUnavailable, "the job store does not answer; try again shortly"),
		cause:  err,
	}
}

func seconds(d time.Duration) int64 { return max(int64(d/time.Second), 1) }

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// lease is this worker's hold on a running job: the renewal to stop, and
// the queue entry of its attempt.
type lease struct {
	stop        context.CancelFunc
	stream, msg string // the queue entry of this attempt
}
