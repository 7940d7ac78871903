package redis

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/onpyrunner/onpyrunner"
)

var _ onpyrunner.Batches = (*Store)(nil)

// SaveBatch implements onpyrunner.Batches: batch:ID holds the ids as JSON,
// kept the retention and a day more (its jobs end after it is made).
func (s *Store) SaveBatch(ctx context.Context, id string, jobs []string) error {
	b, err := json.Marshal(jobs)
	if err != nil {
		return err
	}
	return s.fail(s.rdb.Set(ctx, s.key("batch", id), b, s.retention(ctx)+24*time.Hour).Err())
}

// Batch implements onpyrunner.Batches.
func (s *Store) Batch(ctx context.Context, id string) ([]string, error) {
	b, err := s.rdb.Get(ctx, s.key("batch", id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no batch %q (batches are kept as long as their jobs)", id)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	var jobs []string
	return jobs, json.Unmarshal(b, &jobs)
}
