package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

var _ onpyrunner.Batches = (*Store)(nil)

// SaveBatch implements onpyrunner.Batches.
func (s *Store) SaveBatch(ctx context.Context, id string, jobs []string) error {
	b, err := json.Marshal(jobs)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO batches (id, jobs, created_at) VALUES (?, ?, ?)`,
		id, string(b), time.Now().UnixMicro()); err != nil {
		return s.fail(err)
	}
	return nil
}

// Batch implements onpyrunner.Batches.
func (s *Store) Batch(ctx context.Context, id string) ([]string, error) {
	var b string
	err := s.r.QueryRowContext(ctx, `SELECT jobs FROM batches WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no batch %q (batches are kept as long as their jobs)", id)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	var jobs []string
	return jobs, json.Unmarshal([]byte(b), &jobs)
}
