package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/livelog"
)

// console is the embedded store's onpyrunner.Console: the input logs of
// the interactive jobs in memory, as their live logs are (the API and the
// workers share this process), and who holds each job's stdin.
type console struct {
	logs    livelog.Logs
	mu      sync.Mutex
	writers map[string]hold  // by job id
	stdin   map[string]int64 // the bytes of stdin sent, by job id
}

type hold struct {
	token string
	until time.Time
}

var _ onpyrunner.Console = (*Store)(nil)

// open starts a queued job's live log, and its input log where it is
// interactive.
func (s *Store) open(id string, m onpyrunner.Mode) {
	s.logs.Open(id, onpyrunner.Queued)
	if m.Interactive {
		s.console.logs.Open(id, onpyrunner.Queued)
	}
}

// end ends a job's logs with its final status.
func (s *Store) end(id string, st onpyrunner.Status) {
	s.logs.End(id, st)
	s.console.logs.End(id, st)
	s.console.mu.Lock()
	delete(s.console.writers, id)
	delete(s.console.stdin, id)
	s.console.mu.Unlock()
}

// SendInput implements onpyrunner.Console.
func (s *Store) SendInput(_ context.Context, id string, t onpyrunner.EventType, data string, maxStdin int64) error {
	c := &s.console
	c.mu.Lock()
	defer c.mu.Unlock()
	if t == onpyrunner.StdinEvent && c.stdin[id]+int64(len(data)) > maxStdin {
		return onpyrunner.Errorf(onpyrunner.CodeTooLarge, "stdin: over the server's cap of %d bytes for a job", maxStdin)
	}
	if !c.logs.Add(id, t, data) {
		return onpyrunner.Errorf(onpyrunner.CodeNotFound, "job %q takes no input: it is not interactive, or it has ended", id)
	}
	if t == onpyrunner.StdinEvent {
		if c.stdin == nil {
			c.stdin = map[string]int64{}
		}
		c.stdin[id] += int64(len(data))
	}
	return nil
}

// Input implements onpyrunner.Console.
func (s *Store) Input(ctx context.Context, id string, after int) ([]onpyrunner.Event, bool, error) {
	return s.console.logs.Events(ctx, id, after)
}

// HoldWriter implements onpyrunner.Console.
func (s *Store) HoldWriter(_ context.Context, id, token string, ttl time.Duration) (bool, error) {
	c := &s.console
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if h, ok := c.writers[id]; ok && h.token != token && now.Before(h.until) {
		return false, nil
	}
	if c.writers == nil {
		c.writers = map[string]hold{}
	}
	c.writers[id] = hold{token, now.Add(ttl)}
	return true, nil
}

// ReleaseWriter implements onpyrunner.Console.
func (s *Store) ReleaseWriter(_ context.Context, id, token string) error {
	c := &s.console
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers[id].token == token {
		delete(c.writers, id)
	}
	return nil
}
