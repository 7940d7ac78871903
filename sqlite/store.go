package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/livelog"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// Config is the store's configuration; its zero value works but for Dir.
type Config struct {
	// Dir holds the database file (jobs.db). Required.
	Dir string
	// QueueCap is the most jobs queued at once. Default 1000.
	QueueCap int
	// Retention is how long a finished job is kept. Default 24h.
	Retention time.Duration
	// Logger hears of a failed removal of expired jobs (the next try may
	// succeed). Default slog.Default().
	Logger *slog.Logger
	// MaxAttempts is how many times a job may be started before a job that
	// keeps dying with its server ends failed. Default 3.
	MaxAttempts int
	// MaxBytes is the store's byte budget: once the database holds this
	// much (jobs' code, input, results), a submission gets 503 until the
	// retention frees room. Default: a quarter of the data folder's file
	// system.
	MaxBytes int64
}

// Store is the embedded onpyrunner.Store.
type Store struct {
	cfg     Config
	w, r    *sql.DB // one writer connection; readers in parallel (WAL)
	st      stmts
	durable *groupSync
	logs    livelog.Logs
	console console
	queued  chan struct{} // a token: a job may be waiting in the queue
	owed    chan struct{} // a token: a webhook delivery may be due
	fullAt  atomic.Int64  // when a write last failed for a full disk (unix ns)
}

// stmts are the statements of every job's way through the store, parsed
// once.
type stmts struct {
	count, insert, claim, finish, get *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	var errs [5]error
	s.st.count, errs[0] = s.w.PrepareContext(ctx, `SELECT COUNT(*) FROM jobs WHERE status = 'queued'`)
	s.st.insert, errs[1] = s.w.PrepareContext(ctx, `INSERT INTO jobs (id, status, language, version, limits, options, code, input, created_at)
		VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)`)
	s.st.claim, errs[2] = s.w.PrepareContext(ctx, `UPDATE jobs SET status = 'running', started_at = ?,
		attempts = attempts + 1 WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY rowid LIMIT 1)
		RETURNING `+columns)
	s.st.finish, errs[3] = s.w.PrepareContext(ctx, `UPDATE jobs SET status = ?, finished_at = ?, result = ?, error = ?
		WHERE id = ? AND status = 'running'`)
	s.st.get, errs[4] = s.r.PrepareContext(ctx, `SELECT `+columns+` FROM jobs WHERE id = ?`)
	if err := errors.Join(errs[:]...); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

var _ onpyrunner.Store = (*Store)(nil)

var schema = `
CREATE TABLE IF NOT EXISTS jobs (
	id          TEXT PRIMARY KEY,
	status      TEXT NOT NULL,
	language    TEXT NOT NULL,
	limits      TEXT NOT NULL,
	code        TEXT NOT NULL,
	input       TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	result      TEXT,
	error       TEXT NOT NULL DEFAULT '',
	attempts    INTEGER NOT NULL DEFAULT 0,
	version     TEXT NOT NULL DEFAULT '',
	options     TEXT NOT NULL DEFAULT '{}'
);
-- Jobs submitted together: their ids as a JSON array.
CREATE TABLE IF NOT EXISTS batches (
	id         TEXT PRIMARY KEY,
	jobs       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Jobs ended, by final status and verdict: counted by the database where a
-- job ends (finished, canceled, failed after its deaths), once, in the
-- same transaction, whichever process ends it.
CREATE TABLE IF NOT EXISTS ended (
	status  TEXT NOT NULL,
	verdict TEXT NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (status, verdict)
);
CREATE TRIGGER IF NOT EXISTS job_ended AFTER UPDATE OF status ON jobs
WHEN OLD.status IN ('queued', 'running') AND NEW.status IN ('completed', 'failed', 'canceled')
BEGIN
	INSERT INTO ended (status, verdict, n)
	VALUES (NEW.status, coalesce(json_extract(NEW.result, '$.verdict'), ''), 1)
	ON CONFLICT (status, verdict) DO UPDATE SET n = n + 1;
END;
-- Webhook deliveries (onpyrunner.Outbox): one for each job with a
-- callbackUrl, put in by the transaction that ends the job; due in unix
-- ms; kept, settled, as long as the job.
CREATE TABLE IF NOT EXISTS deliveries (
	job_id TEXT PRIMARY KEY,
	due    INTEGER NOT NULL,
	tries  INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'pending', -- once settled, never due again
	error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due);
CREATE TRIGGER IF NOT EXISTS job_owed AFTER UPDATE OF status ON jobs
WHEN OLD.status IN ('queued', 'running') AND NEW.status IN ('completed', 'failed', 'canceled')
	AND coalesce(json_extract(NEW.options, '$.callbackUrl'), '') != ''
BEGIN
	INSERT INTO deliveries (job_id, due)
	VALUES (NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER) +
		CASE WHEN OLD.status = 'running' AND NEW.status = 'canceled' THEN ` + strconv.FormatInt(onpyrunner.CanceledDeliveryDelay.Milliseconds(), 10) + ` ELSE 0 END)
	ON CONFLICT (job_id) DO NOTHING;
END;
`

// Open opens (creating if need be) the store in cfg.Dir and recovers the
// jobs that a dead process left running.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("sqlite: no data directory")
	}
	cfg.QueueCap = cmp(cfg.QueueCap, 1000)
	cfg.MaxAttempts = cmp(cfg.MaxAttempts, 3)
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = quarterOfDisk(cfg.Dir)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	file := filepath.Join(cfg.Dir, "jobs.db")
	dsn := func(extra string) string {
		return "file:" + (&url.URL{Path: file}).EscapedPath() +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" + extra
	}
	s := &Store{cfg: cfg, queued: make(chan struct{}, 1), owed: make(chan struct{}, 1), durable: newGroupSync(file)}
	var err error
	if s.w, err = sql.Open("sqlite", dsn("&_txlock=immediate")); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	if s.r, err = sql.Open("sqlite", dsn("&_pragma=query_only(1)")); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.r.SetMaxOpenConns(8)
	if err := errors.Join(s.recover(context.Background()), s.prepare(context.Background())); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func cmp(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// recover creates the schema, puts back into the queue the jobs a dead
// process left running (or fails those out of attempts), and opens the live
// logs of the queued jobs.
func (s *Store) recover(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("sqlite: schema: %w", err)
	}
	// A store made before jobs had versions, or options, gets the columns.
	for _, col := range []string{`version TEXT NOT NULL DEFAULT ''`, `options TEXT NOT NULL DEFAULT '{}'`} {
		if _, err := s.w.ExecContext(ctx, `ALTER TABLE jobs ADD COLUMN `+col); err != nil &&
			!strings.Contains(err.Error(), "duplicate column") {
			return fmt.Errorf("sqlite: schema: %w", err)
		}
	}
	now := time.Now().UnixMicro()
	if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET status = 'failed', finished_at = ?, error = ?
		WHERE status = 'running' AND attempts >= ?`, now,
		fmt.Sprintf("the server stopped while running this job, %d times; it was not started again", s.cfg.MaxAttempts),
		s.cfg.MaxAttempts); err != nil {
		return fmt.Errorf("sqlite: recover: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET status = 'queued', started_at = NULL
		WHERE status = 'running'`); err != nil {
		return fmt.Errorf("sqlite: recover: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, options FROM jobs WHERE status = 'queued'`)
	if err != nil {
		return fmt.Errorf("sqlite: recover: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, options string
		var o onpyrunner.Options
		if err := rows.Scan(&id, &options); err != nil {
			return fmt.Errorf("sqlite: recover: %w", err)
		}
		_ = json.Unmarshal([]byte(options), &o) // a bad one: a batch run
		s.open(id, o.Mode)
	}
	s.wake()
	s.owe() // deliveries owed before the restart
	return rows.Err()
}

// Close closes the database.
func (s *Store) Close() error {
	defer s.durable.close()
	return errors.Join(s.w.Close(), s.r.Close())
}

// Run removes finished jobs older than the retention period, now and then,
// until ctx ends. A removal that fails is logged and tried again at the
// next: it never stops the service.
func (s *Store) Run(ctx context.Context) error {
	every := min(s.cfg.Retention/10, time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx, time.Now().Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("sqlite: remove expired jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Expire removes the jobs that finished before t and says how many.
func (s *Store) Expire(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM deliveries WHERE job_id NOT IN (SELECT id FROM jobs)`); err != nil {
		return 0, fmt.Errorf("sqlite: expire: %w", err)
	}
	// A batch goes with its jobs: a day after they may have gone.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM batches WHERE created_at < ?`, t.Add(-24*time.Hour).UnixMicro()); err != nil {
		return 0, fmt.Errorf("sqlite: expire: %w", err)
	}
	return res.RowsAffected()
}

// wake tells one waiting Claim that a job may be queued.
func (s *Store) wake() {
	select {
	case s.queued <- struct{}{}:
	default:
	}
}
