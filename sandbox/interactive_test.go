//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// seen is a program's output as it comes, and a way to wait for a piece.
type seen struct {
	mu   sync.Mutex
	b    strings.Builder
	wake chan struct{}
}

func newSeen() *seen { return &seen{wake: make(chan struct{})} }

func (s *seen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	close(s.wake)
	s.wake = make(chan struct{})
	return len(p), nil
}

// await waits until the output holds want, for a minute at most: a
// program that keeps it in a buffer never shows it.
func (s *seen) await(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		s.mu.Lock()
		got, wake := s.b.String(), s.wake
		s.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("no %q in the output while the program runs; got %q", want, got)
		}
	}
}

// start runs spec in mode m on a goroutine; the result comes on the
// channel.
func (m mode) start(ctx context.Context, t *testing.T, spec sandbox.Spec) <-chan runEnd {
	t.Helper()
	sandboxFor(t)
	spec.Runtime = m.runtime
	end := make(chan runEnd, 1)
	go func() {
		res, err := m.runSpec(ctx, spec)
		end <- runEnd{res, err}
	}()
	return end
}

type runEnd struct {
	res *onpyrunner.Result
	err error
}

// interactiveModes are the modes the interactive tests run in: the host's
// python cold and warm, and each runtime of its own root, cold and warm.
func interactiveModes(t *testing.T) map[string]mode {
	sandboxFor(t)
	ms := map[string]mode{"host/cold": cold, "host/warm": warmMode}
	if rooted != nil {
		for _, rt := range rooted.Runtimes() {
			if rt.Root != "" {
				ms[rt.Name+"/cold"] = mode{runtime: rt.Name, s: rooted}
				ms[rt.Name+"/warm"] = mode{warm: true, runtime: rt.Name, s: rooted}
			}
		}
	}
	testenv.Require(t, len(ms) >= 6, "CPython and PyPy runtimes of their own (onpyrunner runtime add python3.14; runtime add pypy3)")
	return ms
}

// TestInteractive checks what an interactive run needs of the sandbox:
// output written through while the program waits for input (Unbuffered),
// signals from the client (a Ctrl-C is a KeyboardInterrupt), and nothing
// printed lost when a limit or a cancel stops a buffered program.
func TestInteractive(t *testing.T) {
	defer slots.closeAll()
	long := onpyrunner.Limits{TimeMs: 20_000, WallTimeMs: 120_000}
	for name, m := range interactiveModes(t) {
		t.Run(name, func(t *testing.T) {
			defer slots.closeAll()
			t.Run("prompt before input", func(t *testing.T) {
				in, feed := io.Pipe()
				out := newSeen()
				end := m.start(t.Context(), t, sandbox.Spec{Code: []byte(
					"import os, sys\nname = input('Your name? ')\nprint('Hello,', name, os.environ.get('PYTHONUNBUFFERED'))\n" +
						"age = input('Age? ')\nprint(age, file=sys.stderr)\n"),
					Stdin: in, Stdout: out, Stderr: out, Unbuffered: true, Limits: long})
				out.await(t, "Your name? ")
				io.WriteString(feed, "Ada\n")
				out.await(t, "Age? ")
				io.WriteString(feed, "36\n")
				feed.Close()
				e := <-end
				if e.err != nil || e.res.Verdict != onpyrunner.OK || e.res.Stdout != "Your name? Hello, Ada 1\nAge? " || e.res.Stderr != "36\n" {
					t.Fatalf("err %v, %s", e.err, show(e.res))
				}
			})
			t.Run("SIGINT", func(t *testing.T) {
				in, feed := io.Pipe()
				defer feed.Close()
				out, sigs := newSeen(), make(chan syscall.Signal, 1)
				end := m.start(t.Context(), t, sandbox.Spec{Code: []byte(
					"import sys, time\ntry:\n    sys.stdout.write('ready\\n')\n    while True: time.sleep(0.05)\nexcept KeyboardInterrupt:\n    print('caught')\n    raise\n"),
					Stdin: in, Stdout: out, Unbuffered: true, Signals: sigs, Limits: long})
				out.await(t, "ready")
				sigs <- syscall.SIGINT
				e := <-end
				if e.err != nil || e.res.Verdict != onpyrunner.RuntimeError || e.res.Signal != "SIGINT" || e.res.Stdout != "ready\ncaught\n" ||
					!strings.Contains(e.res.Stderr, "KeyboardInterrupt") {
					t.Fatalf("err %v, %s", e.err, show(e.res))
				}
			})
			t.Run("EOF", func(t *testing.T) {
				in, feed := io.Pipe()
				out := newSeen()
				end := m.start(t.Context(), t, sandbox.Spec{Code: []byte("print(input('? '))\ninput()\n"),
					Stdin: in, Stdout: out, Unbuffered: true, Limits: long})
				out.await(t, "? ")
				io.WriteString(feed, "x\n")
				feed.Close()
				e := <-end
				if e.err != nil || e.res.Verdict != onpyrunner.RuntimeError || e.res.Stdout != "? x\n" || !strings.Contains(e.res.Stderr, "EOFError") {
					t.Fatalf("err %v, %s", e.err, show(e.res))
				}
			})
			t.Run("stdout before its traceback", func(t *testing.T) {
				both := newSeen()
				e := <-m.start(t.Context(), t, sandbox.Spec{Code: []byte("for i in range(50):\n    print('line', i)\n1/0\n"),
					Stdout: both, Stderr: both, Unbuffered: true})
				if e.err != nil || both.b.String() != e.res.Stdout+e.res.Stderr || !strings.HasSuffix(e.res.Stderr, "ZeroDivisionError: division by zero\n") {
					t.Fatalf("err %v, %s; live %q", e.err, show(e.res), both.b.String())
				}
			})
			// A buffered program stopped by a limit keeps what it printed.
			for _, c := range []struct {
				name, code string
				lim        onpyrunner.Limits
				want       onpyrunner.Verdict
			}{
				{"time limit", "print('starting')\nwhile True: pass\n", onpyrunner.Limits{TimeMs: 500, WallTimeMs: 60_000}, onpyrunner.TimeLimit},
				{"wall limit", "import time\nprint('starting')\ntime.sleep(100)\n", onpyrunner.Limits{WallTimeMs: 1000}, onpyrunner.WallTimeLimit},
			} {
				t.Run(c.name, func(t *testing.T) {
					e := <-m.start(t.Context(), t, sandbox.Spec{Code: []byte(c.code), Limits: c.lim})
					if e.err != nil || e.res.Verdict != c.want || e.res.Stdout != "starting\n" {
						t.Fatalf("err %v, %s", e.err, show(e.res))
					}
				})
			}
			// cgroup v1 pauses a program at its memory limit, and the
			// supervisor lets it flush before the kill; v2 has no such
			// pause: its OOM killer ends the program there (README).
			t.Run("memory limit", func(t *testing.T) {
				e := <-m.start(t.Context(), t, sandbox.Spec{Code: []byte("print('starting')\nx = []\nwhile True:\n    x.append('x' * (1 << 20))\n"),
					Limits: onpyrunner.Limits{MemoryMB: m.memoryMB(64), WallTimeMs: 60_000, TimeMs: 20_000}})
				flushed := m.sandbox().CgroupVersion() == 2 || e.res.Stdout == "starting\n"
				if e.err != nil || e.res.Verdict != onpyrunner.MemoryLimit || !flushed || e.res.MemoryKB > m.memoryMB(64)<<10 {
					t.Fatalf("err %v, %s", e.err, show(e.res))
				}
			})
			t.Run("cancel", func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				in, feed := io.Pipe()
				defer feed.Close()
				out := newSeen()
				// Buffered: only the interrupt's unwinding flushes it.
				end := m.start(ctx, t, sandbox.Spec{Code: []byte(
					"import sys, time\nprint('starting')\ntry:\n    print('ready', file=sys.stderr)\n    while True: time.sleep(0.05)\nfinally:\n    print('cleaned up')\n"),
					Stdin: in, Stderr: out, Limits: long})
				out.await(t, "ready")
				cancel()
				e := <-end
				if !errors.Is(e.err, context.Canceled) || e.res == nil || e.res.Stdout != "starting\ncleaned up\n" {
					t.Fatalf("err %v, %s", e.err, show(e.res))
				}
			})
		})
	}
}
