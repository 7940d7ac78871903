// Package livelog keeps the live event logs of a process's unfinished jobs
// in memory: what an embedded store streams to subscribers while a job is
// queued or running. A log lives from submission to a short while after the
// job's end; its memory is bounded by the job's output caps.
package livelog

import (
	"context"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// linger is how long a log stays after its job's end, so that a subscriber
// that asks again for what follows the events it has read still gets the
// final status, rather than a log gone and no end.
const linger = 10 * time.Second

// Logs is a set of live logs by job id. The zero value is ready to use.
type Logs struct {
	mu   sync.Mutex
	logs map[string]*log
}

type log struct {
	events []onpyrunner.Event
	done   bool
	wake   chan struct{} // closed and replaced when the log grows or ends
}

// Open starts the log of a job with its first status.
func (l *Logs) Open(id string, s onpyrunner.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logs == nil {
		l.logs = map[string]*log{}
	}
	lg := &log{wake: make(chan struct{})}
	l.logs[id] = lg
	lg.add(onpyrunner.StatusEvent, string(s))
}

// Add appends an event to a job's log and says whether it did: it does
// nothing when the job has no live log or its log has ended.
func (l *Logs) Add(id string, t onpyrunner.EventType, data string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[id]
	if lg == nil || lg.done {
		return false
	}
	lg.add(t, data)
	return true
}

// End appends a job's final status and drops its log after linger;
// subscribers get every event up to the end.
func (l *Logs) End(id string, s onpyrunner.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[id]
	if lg == nil || lg.done {
		return
	}
	lg.done = true
	lg.add(onpyrunner.StatusEvent, string(s))
	time.AfterFunc(linger, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.logs[id] == lg {
			delete(l.logs, id)
		}
	})
}

func (lg *log) add(t onpyrunner.EventType, data string) {
	lg.events = append(lg.events, onpyrunner.Event{Seq: len(lg.events) + 1, Type: t, Data: data})
	close(lg.wake)
	lg.wake = make(chan struct{})
}

// Events is onpyrunner.Store's Events for the logs held here.
func (l *Logs) Events(ctx context.Context, id string, after int) ([]onpyrunner.Event, bool, error) {
	l.mu.Lock()
	lg := l.logs[id]
	l.mu.Unlock()
	if lg == nil {
		return nil, true, nil
	}
	for {
		l.mu.Lock()
		evs, done, wake := lg.events[min(max(after, 0), len(lg.events)):], lg.done, lg.wake
		l.mu.Unlock()
		if len(evs) > 0 || done {
			return evs, done, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}
