package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onpyrunner/onpyrunner"
	goredis "github.com/redis/go-redis/v9"
)

// The outbox is a sorted set of job ids by the unix ms they are due at, by
// Redis's clock (every process that shares it agrees), with their tries in
// a hash beside it; a job that ends with a callback wakes one deliverer
// through a list of one token.

var _ onpyrunner.Outbox = (*Store)(nil)

// ClaimDeliveries implements onpyrunner.Outbox.
func (s *Store) ClaimDeliveries(ctx context.Context, n int, lease time.Duration) ([]onpyrunner.Delivery, error) {
	got, err := claimDeliveriesScript.Run(ctx, s.rdb, []string{s.key("outbox"), s.key("outbox", "tries")}, n, lease.Milliseconds()).Slice()
	if err != nil {
		return nil, s.fail(err)
	}
	ds := make([]onpyrunner.Delivery, 0, len(got)/2)
	for i := 0; i+1 < len(got); i += 2 {
		id, _ := got[i].(string)
		tries, ok := got[i+1].(int64)
		if !ok {
			return nil, fmt.Errorf("redis: outbox: tries of %s: %v", id, got[i+1])
		}
		ds = append(ds, onpyrunner.Delivery{JobID: id, Tries: int(tries)})
	}
	return ds, nil
}

// RetryDelivery implements onpyrunner.Outbox.
func (s *Store) RetryDelivery(ctx context.Context, jobID string, after time.Duration) error {
	return s.fail(retryDeliveryScript.Run(ctx, s.rdb, []string{s.key("outbox")}, jobID, after.Milliseconds()).Err())
}

// DropDelivery implements onpyrunner.Outbox.
func (s *Store) DropDelivery(ctx context.Context, jobID string) error {
	p := s.rdb.TxPipeline()
	p.ZRem(ctx, s.key("outbox"), jobID)
	p.HDel(ctx, s.key("outbox", "tries"), jobID)
	_, err := p.Exec(ctx)
	return s.fail(err)
}

// AwaitDeliveries implements onpyrunner.Outbox: it waits on the wake
// list, which a job's end fills, for d at most (and blockFor at most, so
// that it returns soon after ctx ends).
func (s *Store) AwaitDeliveries(ctx context.Context, d time.Duration) {
	// BLPOP by hand: go-redis's waits a second at least.
	wait := fmt.Sprintf("%.3f", min(d, blockFor).Seconds())
	if err := s.rdb.Do(ctx, "BLPOP", s.key("owed"), wait).Err(); err != nil && !errors.Is(err, goredis.Nil) && ctx.Err() == nil {
		// Redis is away: the caller looks anyway (and hears so), after
		// the whole wait.
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
