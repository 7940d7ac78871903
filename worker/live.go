package worker

import (
	"context"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/onpyrunner/onpyrunner"
)

// Output reaches the live log in pieces of at most flushBytes, at most
// flushEvery after it was written (an interactive run's at once): a program that prints a byte at a time
// does not make an event per byte.
const (
	flushEvery = 20 * time.Millisecond
	flushBytes = 16 << 10
)

// liveQueue is how many batches of output may wait for the store: a slow
// store never holds up the program's output (its reader would stall, and
// the program with it); past the queue, batches are dropped and counted.
// The job's result keeps all the output either way.
const liveQueue = 8

// live batches a run's output into the job's live log, in the order it was
// written, cutting only between whole UTF-8 characters, and sends the
// batches on a goroutine of its own.
type live struct {
	store onpyrunner.Store
	id    string
	every time.Duration           // how long output may wait; 0: not at all
	out   chan []onpyrunner.Event // batches for the sender
	sent  chan struct{}           // closed when the sender has sent them all

	dropped atomic.Int64 // bytes not sent: the queue was full
	failed  atomic.Int64 // appends the store refused

	mu      sync.Mutex
	pending []onpyrunner.Event
	size    int
	held    map[onpyrunner.EventType][]byte // an unfinished character
	timer   *time.Timer
}

// newLive batches output for the live log of job id, sent at most every
// after it was written (0 for an interactive run, whose client waits for
// each prompt: sent at once, batched only while the store is behind).
func newLive(store onpyrunner.Store, id string, every time.Duration) *live {
	l := &live{store: store, id: id, every: every, held: map[onpyrunner.EventType][]byte{},
		out: make(chan []onpyrunner.Event, liveQueue), sent: make(chan struct{})}
	go l.send(l.out)
	return l
}

// send appends the batches to the live log, in order.
func (l *live) send(batches <-chan []onpyrunner.Event) {
	defer close(l.sent)
	for batch := range batches {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, ev := range batch {
			if err := l.store.Append(ctx, l.id, ev.Type, ev.Data); err != nil {
				l.failed.Add(1)
			}
		}
		cancel()
	}
}

type stream struct {
	l *live
	t onpyrunner.EventType
}

func (l *live) stream(t onpyrunner.EventType) io.Writer { return stream{l, t} }

func (s stream) Write(p []byte) (int, error) {
	s.l.add(s.t, p)
	return len(p), nil
}

func (l *live) add(t onpyrunner.EventType, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.held[t], p...)
	cut := len(b)
	// Hold back a character cut in two, to send it whole with what follows.
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				cut = len(b) - i
			}
			break
		}
	}
	l.held[t] = append([]byte(nil), b[cut:]...)
	l.put(t, b[:cut])
	if l.size >= flushBytes || l.every == 0 {
		l.flushLocked(false)
	}
	if l.timer == nil && l.size > 0 {
		l.timer = time.AfterFunc(max(l.every, time.Millisecond), l.flush)
	}
}

func (l *live) put(t onpyrunner.EventType, b []byte) {
	if len(b) == 0 {
		return
	}
	if n := len(l.pending); n > 0 && l.pending[n-1].Type == t {
		l.pending[n-1].Data += string(b)
	} else {
		l.pending = append(l.pending, onpyrunner.Event{Type: t, Data: string(b)})
	}
	l.size += len(b)
}

func (l *live) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked(false)
}

// flushLocked hands the pending output to the sender; unless last, it
// drops it when the queue is full rather than wait.
func (l *live) flushLocked(last bool) {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.pending) == 0 || l.out == nil {
		return
	}
	batch := slices.Clone(l.pending)
	if last {
		l.out <- batch
	} else {
		select {
		case l.out <- batch:
		default:
			if l.every == 0 {
				return // kept, for the timer to try again
			}
			l.dropped.Add(int64(l.size))
		}
	}
	l.pending, l.size = l.pending[:0], 0
}

// close sends what is left, unfinished characters too, waits for the
// sender, and says how many bytes were dropped and appends failed.
func (l *live) close() (dropped, failed int64) {
	l.mu.Lock()
	for _, t := range []onpyrunner.EventType{onpyrunner.StdoutEvent, onpyrunner.StderrEvent} {
		l.put(t, l.held[t])
		l.held[t] = nil
	}
	l.flushLocked(true)
	close(l.out)
	l.out = nil // a late timer finds nothing to send to
	l.mu.Unlock()
	<-l.sent
	return l.dropped.Load(), l.failed.Load()
}
