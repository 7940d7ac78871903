package sqlite

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the janitor's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJanitorSurvivesFailedSweep: removals of expired jobs that fail are
// logged, and the janitor goes on until it is stopped.
func TestJanitorSurvivesFailedSweep(t *testing.T) {
	var logs syncBuffer
	s, err := Open(Config{Dir: t.TempDir(), Retention: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.w.Close() // every sweep now fails
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "remove expired jobs") < 2 {
		select {
		case err := <-done:
			t.Fatalf("the janitor stopped at a failed sweep: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed sweep logged twice: %q", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the janitor ended with %v", err)
	}
}
