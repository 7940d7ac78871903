package redis_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
)

// TestManyWaiters: 1,000 clients waiting on live logs hold a bounded number
// of Redis connections (one reader for all), a normal request is about as
// fast as with nobody waiting, and each waiter still gets its events.
func TestManyWaiters(t *testing.T) {
	const n = 1000
	srv := testenv.StartRedis(t)
	s := open(t, srv.URL, rand.Text()+":", 0, 0)
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL, "redis://"), "/0")})
	defer rdb.Close()
	clients := func() int {
		info, err := rdb.Info(t.Context(), "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
				c, _ := strconv.Atoi(v)
				return c
			}
		}
		t.Fatal("no connected_clients")
		return 0
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = submitOne(t, s)
	}
	probe := ids[0]
	p99 := func() time.Duration {
		var d []time.Duration
		for range 200 {
			start := time.Now()
			if _, err := s.Get(t.Context(), probe); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)*99/100]
	}
	idle, before := p99(), clients()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	got := make([][]onpyrunner.Event, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			for ctx.Err() == nil { // as AwaitEnd: until the job ends
				evs, done, err := s.Events(ctx, id, 1) // after its "queued"
				got[i] = append(got[i], evs...)
				if done || err != nil {
					return
				}
			}
		})
	}
	for deadline := time.Now().Add(30 * time.Second); redis.Waiting(s) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waiting", redis.Waiting(s), n)
		}
	}
	busy, inUse := p99(), redis.InUse(s)
	t.Logf("Get p99: %v with nobody waiting, %v with %d waiting (%.1f×); connections in use while they wait: %d (Redis clients %d before, %d now)",
		idle, busy, n, float64(busy)/float64(idle), inUse, before, clients())
	if inUse > 4 {
		t.Errorf("%d waiters hold %d of the pool's connections", n, inUse)
	}
	// One connection per waiter exhausted the pool: a Get waited seconds.
	if busy > 20*idle && busy > 50*time.Millisecond {
		t.Errorf("Get p99 %v with %d waiting, %v without", busy, n, idle)
	}
	for _, id := range ids {
		if _, err := s.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, evs := range got {
		if len(evs) != 1 || evs[0].Data != string(onpyrunner.Canceled) {
			t.Fatalf("waiter %d got %+v, want its canceled event", i, evs)
		}
	}
}
