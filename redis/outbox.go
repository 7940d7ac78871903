package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onpyrunner/onpyrunner"
	goredis "github.com/redis/go-redis/v9"
)

// The outbox is a sorted set of job ids by the unix ms they are due at, by
// Redis's clock (every process that shares it agrees), with their tries in
// a hash beside it, and each delivery's state, as its last try left it,
// in a key of its own kept as long as the job; a job that ends with a
// callback wakes one deliverer through a list of one token.

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
func (s *Store) RetryDelivery(ctx context.Context, d onpyrunner.Delivery, after time.Duration, why string) error {
	state, err := json.Marshal(onpyrunner.DeliveryState{Status: onpyrunner.DeliveryPending, Tries: d.Tries, Error: why})
	if err != nil {
		return err
	}
	return s.fail(retryDeliveryScript.Run(ctx, s.rdb, []string{s.key("outbox"), s.key("webhook", d.JobID)},
		d.JobID, after.Milliseconds(), state, seconds(s.retention(ctx))).Err())
}

// DeferDelivery implements onpyrunner.Outbox.
func (s *Store) DeferDelivery(ctx context.Context, d onpyrunner.Delivery, after time.Duration) error {
	return s.fail(deferDeliveryScript.Run(ctx, s.rdb, []string{s.key("outbox"), s.key("outbox", "tries")},
		d.JobID, after.Milliseconds()).Err())
}

// SettleDelivery implements onpyrunner.Outbox.
func (s *Store) SettleDelivery(ctx context.Context, d onpyrunner.Delivery, st onpyrunner.DeliveryStatus, why string) error {
	state, err := json.Marshal(onpyrunner.DeliveryState{Status: st, Tries: d.Tries, Error: why})
	if err != nil {
		return err
	}
	p := s.rdb.TxPipeline()
	p.ZRem(ctx, s.key("outbox"), d.JobID)
	p.HDel(ctx, s.key("outbox", "tries"), d.JobID)
	p.Set(ctx, s.key("webhook", d.JobID), state, s.retention(ctx))
	_, err = p.Exec(ctx)
	return s.fail(err)
}

// DeliveryOf implements onpyrunner.Outbox: while the delivery is owed,
// pending with its tries so far and the last failure; then the state its
// settling left.
func (s *Store) DeliveryOf(ctx context.Context, jobID string) (*onpyrunner.DeliveryState, error) {
	p := s.rdb.Pipeline()
	state := p.Get(ctx, s.key("webhook", jobID))
	owed := p.ZScore(ctx, s.key("outbox"), jobID)
	tries := p.HGet(ctx, s.key("outbox", "tries"), jobID)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.fail(err)
	}
	var d onpyrunner.DeliveryState
	if state.Err() == nil {
		if err := json.Unmarshal([]byte(state.Val()), &d); err != nil {
			return nil, fmt.Errorf("redis: webhook state of %s: %w", jobID, err)
		}
	}
	switch {
	case owed.Err() == nil: // still owed: its tries so far, the last failure
		d.Status, d.Tries = onpyrunner.DeliveryPending, 0
		if n, err := tries.Int(); err == nil {
			d.Tries = n
		}
	case state.Err() != nil:
		return nil, nil
	}
	return &d, nil
}

// AwaitDeliveries implements onpyrunner.Outbox: it waits on the wake
// list, which a job's end fills, blockFor at a time (so that it returns
// soon after ctx ends), until a wake comes or d has passed.
func (s *Store) AwaitDeliveries(ctx context.Context, d time.Duration) {
	for end := time.Now().Add(d); ctx.Err() == nil; {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		// BLPOP by hand: go-redis's waits a second at least.
		wait := fmt.Sprintf("%.3f", min(left, blockFor).Seconds())
		err := s.rdb.Do(ctx, "BLPOP", s.key("owed"), wait).Err()
		switch {
		case err == nil:
			return // woken
		case !errors.Is(err, goredis.Nil):
			// Redis is away: the caller looks anyway (and hears so),
			// after the whole wait.
			t := time.NewTimer(left)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			return
		}
	}
}
