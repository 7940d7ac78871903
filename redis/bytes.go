package redis

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// memory is what Redis says of its memory, asked at most once a second.
type memory struct {
	used, max int64
	asked     time.Time
}

// memoryNow returns Redis's used memory and maxmemory (0: none), from a
// second ago at most.
func (s *Store) memoryNow(ctx context.Context) (used, maxmem int64, err error) {
	s.mu.Lock()
	m := s.mem
	s.mu.Unlock()
	if time.Since(m.asked) < time.Second {
		return m.used, m.max, nil
	}
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, s.fail(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			m.used, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "maxmemory:"); ok {
			m.max, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	m.asked = time.Now()
	s.mu.Lock()
	s.mem = m
	s.mu.Unlock()
	return m.used, m.max, nil
}

// overBudget fails with 503 when Redis holds the store's byte budget:
// Config.MaxBytes, else 90% of Redis's maxmemory (before Redis refuses
// writes, which would fail finishes too).
func (s *Store) overBudget(ctx context.Context) error {
	used, maxmem, err := s.memoryNow(ctx)
	if err != nil {
		return err
	}
	budget := s.cfg.MaxBytes
	if budget <= 0 {
		budget = maxmem / 10 * 9
	}
	if budget > 0 && used >= budget {
		return onpyrunner.Errorf(onpyrunner.CodeUnavailable,
			"the job store is at its byte budget (%.1f MiB of Redis memory); try again when older jobs have expired", float64(budget)/(1<<20))
	}
	return nil
}
