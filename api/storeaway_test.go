package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
)

// TestRedisAwayFailsFast: with Redis hung, concurrent submissions each get
// their 503 about as fast as one alone does, not one after another.
func TestRedisAwayFailsFast(t *testing.T) {
	r := testenv.StartRedis(t)
	store, err := redis.Open(t.Context(), redis.Config{URL: r.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// A worker has said what it runs.
	if err := store.PublishRuntimes(t.Context(), []api.Runtime{{Language: "python", Version: "3"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	h := api.New(store, api.Config{RuntimeSource: store.Runtimes})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func() (int, time.Duration) {
		start := time.Now()
		resp, err := srv.Client().Post(srv.URL+"/api/jobs", "application/json", strings.NewReader(`{"code":"print(1)"}`))
		if err != nil {
			t.Error(err)
			return 0, time.Since(start)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if code, _ := post(); code != http.StatusAccepted {
		t.Fatalf("with Redis up: %d", code)
	}
	time.Sleep(6 * time.Second) // the runtimes known are stale: the next POST asks again
	r.Pause(t)
	code, alone := post()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("one POST with Redis hung: %d, want 503", code)
	}
	const n = 100
	times := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var code int
			code, times[i] = post()
			if code != http.StatusServiceUnavailable {
				t.Errorf("POST %d with Redis hung: %d, want 503", i, code)
			}
		})
	}
	wg.Wait()
	slices.Sort(times)
	worst := times[n-1]
	t.Logf("Redis hung: one POST's 503 after %v; %d at once: median %v, slowest %v (%.1f× the one)",
		alone, n, times[n/2], worst, float64(worst)/float64(alone))
	// One after another would be about n times the one.
	if worst > 3*alone {
		t.Errorf("the slowest of %d concurrent POSTs took %v, over 3× one alone (%v): they wait on each other", n, worst, alone)
	}
}
