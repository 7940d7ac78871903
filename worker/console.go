package worker

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// errUnattached ends an interactive run that no client attached to in time.
var errUnattached = errors.New("no client attached")

// console feeds an interactive run: the job's input first, then what its
// client sends through the store's Console: stdin to the program, EOF
// closing it, signals to the run.
type console struct {
	stdin   *inbox
	signals chan syscall.Signal
	stop    context.CancelFunc // ends the feeding
}

// follow starts feeding job j's run until stop. kill ends the run, with
// errUnattached, when no client attaches within attach.
func follow(ctx context.Context, c onpyrunner.Console, j *onpyrunner.Job, attach time.Duration, kill context.CancelCauseFunc) *console {
	ctx, stop := context.WithCancel(ctx)
	con := &console{stdin: newInbox(j.Input), signals: make(chan syscall.Signal, 4), stop: stop}
	attached := make(chan struct{})
	go func() {
		select {
		case <-attached:
		case <-ctx.Done():
		case <-time.After(attach):
			kill(errUnattached)
		}
	}()
	go func() {
		defer con.stdin.close()
		seen, after := false, 0
		for ctx.Err() == nil {
			evs, done, err := c.Input(ctx, j.ID, after)
			if err != nil {
				select { // the store is away: look again shortly
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			for _, ev := range evs {
				after = ev.Seq
				switch ev.Type {
				case onpyrunner.AttachEvent:
					if !seen {
						seen = true
						close(attached)
					}
				case onpyrunner.StdinEvent:
					con.stdin.put(ev.Data)
				case onpyrunner.EOFEvent:
					con.stdin.close()
				case onpyrunner.SignalEvent:
					if sig, ok := onpyrunner.Signals[ev.Data]; ok {
						select {
						case con.signals <- sig:
						case <-ctx.Done():
						}
					}
				}
			}
			if done {
				return
			}
		}
	}()
	return con
}

// inbox is an interactive run's stdin: Read blocks until bytes come or
// the input ends. What a client sends never waits on the program.
type inbox struct {
	mu   sync.Mutex
	buf  []byte
	eof  bool
	wake chan struct{} // closed and replaced when bytes come or the input ends
}

func newInbox(first string) *inbox { return &inbox{buf: []byte(first), wake: make(chan struct{})} }

// Read implements io.Reader.
func (b *inbox) Read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		if len(b.buf) > 0 {
			n := copy(p, b.buf)
			b.buf = b.buf[n:]
			b.mu.Unlock()
			return n, nil
		}
		eof, wake := b.eof, b.wake
		b.mu.Unlock()
		if eof {
			return 0, io.EOF
		}
		<-wake
	}
}

func (b *inbox) put(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.eof {
		b.buf = append(b.buf, s...)
		close(b.wake)
		b.wake = make(chan struct{})
	}
}

func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.eof {
		b.eof = true
		close(b.wake)
		b.wake = make(chan struct{})
	}
}
