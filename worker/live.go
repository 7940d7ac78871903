package worker

import (
	"context"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/onpyrunner/onpyrunner"
)

// Output reaches the live log in pieces of at most flushBytes, at most
// flushEvery after it was written: a program that prints a byte at a time
// does not make an event per byte.
const (
	flushEvery = 20 * time.Millisecond
	flushBytes = 16 << 10
)

// live batches a run's output into the job's live log, in the order it was
// written, cutting only between whole UTF-8 characters.
type live struct {
	store onpyrunner.Store
	id    string

	mu      sync.Mutex
	pending []onpyrunner.Event
	size    int
	held    map[onpyrunner.EventType][]byte // an unfinished character
	timer   *time.Timer
}

func newLive(store onpyrunner.Store, id string) *live {
	return &live{store: store, id: id, held: map[onpyrunner.EventType][]byte{}}
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
	if l.size >= flushBytes {
		l.flushLocked()
	} else if l.timer == nil && l.size > 0 {
		l.timer = time.AfterFunc(flushEvery, l.flush)
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
	l.flushLocked()
}

func (l *live) flushLocked() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ev := range l.pending {
		_ = l.store.Append(ctx, l.id, ev.Type, ev.Data)
	}
	l.pending, l.size = l.pending[:0], 0
}

// close sends what is left, unfinished characters too.
func (l *live) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range []onpyrunner.EventType{onpyrunner.StdoutEvent, onpyrunner.StderrEvent} {
		l.put(t, l.held[t])
		l.held[t] = nil
	}
	l.flushLocked()
}
