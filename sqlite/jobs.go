package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// Submit implements onpyrunner.Store.
func (s *Store) Submit(ctx context.Context, j *onpyrunner.Job) error {
	limits, err := json.Marshal(j.Limits)
	if err != nil {
		return err
	}
	options, err := json.Marshal(j.Options)
	if err != nil {
		return err
	}
	// Microseconds: what the database keeps, so every answer says the same.
	j.Status, j.CreatedAt = onpyrunner.Queued, time.Now().UTC().Truncate(time.Microsecond)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.StmtContext(ctx, s.st.count).QueryRowContext(ctx).Scan(&n); err != nil {
		return s.fail(err)
	}
	if n >= s.cfg.QueueCap {
		return onpyrunner.Errorf(onpyrunner.CodeQueueFull, "the queue is full (%d jobs); try again shortly", n)
	}
	if used, err := storedBytes(ctx, tx); err != nil {
		return s.fail(err)
	} else if used >= s.cfg.MaxBytes {
		return onpyrunner.Errorf(onpyrunner.CodeUnavailable,
			"the job store is at its byte budget (%.1f MiB); try again when older jobs have expired", float64(s.cfg.MaxBytes)/(1<<20))
	}
	if _, err := tx.StmtContext(ctx, s.st.insert).ExecContext(ctx, j.ID, j.Language, j.Version, string(limits), string(options),
		j.Code, j.Input, j.CreatedAt.UnixMicro()); err != nil {
		return s.fail(err)
	}
	s.open(j.ID, j.Mode) // before a Claim can see the job
	if err := tx.Commit(); err != nil {
		s.end(j.ID, onpyrunner.Failed)
		return s.fail(err)
	}
	s.wake()
	if err := s.durable.wait(); err != nil { // on disk before the submitter hears of it
		return s.fail(err)
	}
	return nil
}

const columns = `id, status, language, version, limits, options, code, input, created_at, started_at, finished_at, result, error, attempts`

func scanJob(row interface{ Scan(...any) error }) (*onpyrunner.Job, error) {
	var (
		j                 onpyrunner.Job
		limits, options   string
		result            sql.NullString
		created           int64
		started, finished sql.NullInt64
	)
	if err := row.Scan(&j.ID, &j.Status, &j.Language, &j.Version, &limits, &options, &j.Code, &j.Input, &created,
		&started, &finished, &result, &j.Error, &j.Attempts); err != nil {
		return nil, err
	}
	j.CreatedAt = time.UnixMicro(created).UTC()
	j.StartedAt, j.FinishedAt = when(started), when(finished)
	if err := json.Unmarshal([]byte(limits), &j.Limits); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(options), &j.Options); err != nil {
		return nil, err
	}
	if result.Valid {
		j.Result = new(onpyrunner.Result)
		if err := json.Unmarshal([]byte(result.String), j.Result); err != nil {
			return nil, err
		}
	}
	return &j, nil
}

func when(t sql.NullInt64) *time.Time {
	if !t.Valid {
		return nil
	}
	u := time.UnixMicro(t.Int64).UTC()
	return &u
}

// Get implements onpyrunner.Store.
func (s *Store) Get(ctx context.Context, id string) (*onpyrunner.Job, error) {
	j, err := scanJob(s.st.get.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onpyrunner.NoJob(id, s.cfg.Retention)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	return j, nil
}

// Claim implements onpyrunner.Store.
func (s *Store) Claim(ctx context.Context) (*onpyrunner.Job, error) {
	poll := time.NewTicker(time.Second) // a safety net; Submit wakes a waiter
	defer poll.Stop()
	for {
		j, err := scanJob(s.st.claim.QueryRowContext(ctx, time.Now().UnixMicro()))
		switch {
		case err == nil:
			s.logs.Add(j.ID, onpyrunner.StatusEvent, string(onpyrunner.Running))
			s.wake() // another job may be waiting too
			return j, nil
		case !errors.Is(err, sql.ErrNoRows):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, s.fail(err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.queued:
		case <-poll.C:
		}
	}
}

// Finish implements onpyrunner.Store.
func (s *Store) Finish(ctx context.Context, j *onpyrunner.Job) error {
	if j.Status == onpyrunner.Queued {
		return s.handBack(ctx, j.ID)
	}
	var result any
	if j.Result != nil {
		b, err := json.Marshal(j.Result)
		if err != nil {
			return err
		}
		result = string(b)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	res, err := s.st.finish.ExecContext(ctx, j.Status, now.UnixMicro(), result, j.Error, j.ID)
	if err != nil {
		return s.fail(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		j.FinishedAt = &now
		s.end(j.ID, j.Status)
		if j.CallbackURL != "" {
			s.owe()
		}
	} else if j.Status == onpyrunner.Canceled && result != nil {
		// Canceled while it ran: it keeps what its run wrote until then.
		if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET result = ? WHERE id = ? AND status = 'canceled' AND result IS NULL`,
			result, j.ID); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

// handBack queues a running job again. Its "queued" event goes into the
// log before the commit, so that no Claim can log "running" before it.
func (s *Store) handBack(ctx context.Context, id string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'queued', started_at = NULL
		WHERE id = ? AND status = 'running'`, id)
	if err != nil {
		return s.fail(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil
	}
	s.logs.Add(id, onpyrunner.StatusEvent, string(onpyrunner.Queued))
	if err := tx.Commit(); err != nil {
		return s.fail(err)
	}
	s.wake()
	return nil
}

// Cancel implements onpyrunner.Store.
func (s *Store) Cancel(ctx context.Context, id string) (*onpyrunner.Job, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE jobs SET status = 'canceled', finished_at = ?
		WHERE id = ? AND status IN ('queued', 'running')`, time.Now().UnixMicro(), id)
	if err != nil {
		return nil, s.fail(err)
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		s.end(id, onpyrunner.Canceled)
	}
	j, err := s.Get(ctx, id)
	if n == 1 && err == nil && j.CallbackURL != "" {
		s.owe()
	}
	return j, err
}

// Append implements onpyrunner.Store.
func (s *Store) Append(_ context.Context, id string, t onpyrunner.EventType, data string) error {
	s.logs.Add(id, t, data)
	return nil
}

// Events implements onpyrunner.Store.
func (s *Store) Events(ctx context.Context, id string, after int) ([]onpyrunner.Event, bool, error) {
	return s.logs.Events(ctx, id, after)
}

// Stats implements onpyrunner.Store; it fails while the disk is full, so
// that readiness says so.
func (s *Store) Stats(ctx context.Context) (onpyrunner.Stats, error) {
	var st onpyrunner.Stats
	if s.full() {
		return st, diskFull()
	}
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM jobs WHERE status = 'queued'),
		(SELECT COUNT(*) FROM jobs WHERE status = 'running')`).Scan(&st.Queued, &st.Running)
	if err != nil {
		return st, s.fail(err)
	}
	if st.StoredBytes, err = storedBytes(ctx, s.r); err != nil {
		return st, s.fail(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT status, verdict, n FROM ended`)
	if err != nil {
		return st, s.fail(err)
	}
	defer rows.Close()
	st.Ended = map[onpyrunner.Ending]int64{}
	for rows.Next() {
		var e onpyrunner.Ending
		var n int64
		if err := rows.Scan(&e.Status, &e.Verdict, &n); err != nil {
			return st, s.fail(err)
		}
		st.Ended[e] = n
	}
	if err := rows.Err(); err != nil {
		return st, s.fail(err)
	}
	return st, nil
}
