package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/redis"
	"github.com/onpyrunner/onpyrunner/webhook"
)

// TestWatchSigners: a serve process warns while another sharing its Redis
// signs webhooks with another secret, and says so when that one is gone.
func TestWatchSigners(t *testing.T) {
	store, err := redis.Open(t.Context(), redis.Config{URL: testenv.StartRedis(t).URL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.PublishSigner(t.Context(), webhook.Fingerprint([]byte("theirs")), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- watchSigners(ctx, store, webhook.Fingerprint([]byte("ours")), 50*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	for _, want := range []string{"different secrets", "one secret again"} {
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in %s", want, logs.String())
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "different secrets"); n != 1 {
		t.Errorf("warned %d times: %s", n, logs.String())
	}
}
