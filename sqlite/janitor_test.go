package sqlite

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

// TestJanitorSurvivesFailedSweep: removals of expired jobs that fail are
// logged, and the janitor goes on until it is stopped.
func TestJanitorSurvivesFailedSweep(t *testing.T) {
	var logs testenv.SyncBuffer
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
