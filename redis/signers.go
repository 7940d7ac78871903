package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// PublishSigner tells the processes sharing this Redis that one of them
// signs webhook deliveries with the secret fingerprinted fp (see
// webhook.Fingerprint), for ttl (a serve process refreshes it while it
// lives), and returns the fingerprints of every secret that live
// processes sign with, fp among them.
func (s *Store) PublishSigner(ctx context.Context, fp string, ttl time.Duration) ([]string, error) {
	key, now := s.key("signers"), time.Now()
	pipe := s.rdb.TxPipeline()
	pipe.ZAddGT(ctx, key, goredis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: fp})
	pipe.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	// The key outlives its longest-lived member (whole seconds, as EXPIRE
	// counts), however short another process's ttl.
	keyTTL := ttl.Truncate(time.Second) + time.Second
	pipe.ExpireNX(ctx, key, keyTTL)
	pipe.ExpireGT(ctx, key, keyTTL)
	live := pipe.ZRange(ctx, key, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail(err)
	}
	return live.Val(), nil
}
