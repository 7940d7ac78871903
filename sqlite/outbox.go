package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

var _ onpyrunner.Outbox = (*Store)(nil)

// ClaimDeliveries implements onpyrunner.Outbox.
func (s *Store) ClaimDeliveries(ctx context.Context, n int, lease time.Duration) ([]onpyrunner.Delivery, error) {
	now := time.Now()
	rows, err := s.w.QueryContext(ctx, `UPDATE deliveries SET due = ?, tries = tries + 1
		WHERE job_id IN (SELECT job_id FROM deliveries WHERE due <= ? AND status = 'pending' ORDER BY due LIMIT ?)
		RETURNING job_id, tries`, now.Add(lease).UnixMilli(), now.UnixMilli(), n)
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	var ds []onpyrunner.Delivery
	for rows.Next() {
		var d onpyrunner.Delivery
		if err := rows.Scan(&d.JobID, &d.Tries); err != nil {
			return nil, s.fail(err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err)
	}
	return ds, nil
}

// RetryDelivery implements onpyrunner.Outbox.
func (s *Store) RetryDelivery(ctx context.Context, d onpyrunner.Delivery, after time.Duration, why string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE deliveries SET due = ?, error = ? WHERE job_id = ? AND status = 'pending'`,
		time.Now().Add(after).UnixMilli(), why, d.JobID); err != nil {
		return s.fail(err)
	}
	return nil
}

// DeferDelivery implements onpyrunner.Outbox.
func (s *Store) DeferDelivery(ctx context.Context, d onpyrunner.Delivery, after time.Duration) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE deliveries SET due = ?, tries = max(tries - 1, 0) WHERE job_id = ? AND status = 'pending'`,
		time.Now().Add(after).UnixMilli(), d.JobID); err != nil {
		return s.fail(err)
	}
	return nil
}

// SettleDelivery implements onpyrunner.Outbox.
func (s *Store) SettleDelivery(ctx context.Context, d onpyrunner.Delivery, st onpyrunner.DeliveryStatus, why string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE deliveries SET status = ?, error = ?, due = ? WHERE job_id = ?`,
		st, why, int64(math.MaxInt64), d.JobID); err != nil {
		return s.fail(err)
	}
	return nil
}

// DeliveryOf implements onpyrunner.Outbox.
func (s *Store) DeliveryOf(ctx context.Context, jobID string) (*onpyrunner.DeliveryState, error) {
	var d onpyrunner.DeliveryState
	err := s.r.QueryRowContext(ctx, `SELECT status, tries, error FROM deliveries WHERE job_id = ?`, jobID).Scan(&d.Status, &d.Tries, &d.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(err)
	}
	return &d, nil
}

// AwaitDeliveries implements onpyrunner.Outbox: the jobs that end in this
// process (the only one that uses this store) wake it.
func (s *Store) AwaitDeliveries(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.owed:
	case <-t.C:
	}
}

// owe wakes AwaitDeliveries: a job with a callback ended.
func (s *Store) owe() {
	select {
	case s.owed <- struct{}{}:
	default:
	}
}
