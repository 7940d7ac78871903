//go:build linux

package sandbox

import (
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/onpyrunner/onpyrunner"
)

// capped keeps a stream's first max bytes, passes them on to an optional
// live writer, and reports once when the program writes more. Its memory is
// bounded by max whatever the program prints.
type capped struct {
	max       int64
	buf       []byte
	truncated bool
	live      io.Writer
	hit       chan<- onpyrunner.Verdict
}

func newCapped(max int64, live io.Writer, hit chan<- onpyrunner.Verdict) *capped {
	return &capped{max: max, live: live, hit: hit}
}

// pair reads a program's stdout and stderr, each into its capped, in the
// order the program wrote them as far as two pipes can tell: a read of
// stderr first takes what stdout holds, under the lock that every read and
// its delivery hold, so that what a program printed before an error or a
// traceback comes before it, live and in the result. It never uses a line
// reader: one line may be any length.
type pair struct {
	mu         sync.Mutex
	out, err   *capped
	outConn    syscall.RawConn
	outB, errB []byte
	outOpen    bool // stdout has not reached its end
}

// drain reads both pipes to their ends (or until they are closed).
func (c *pair) drain(stdout, stderr *os.File) {
	outConn, err1 := stdout.SyscallConn()
	errConn, err2 := stderr.SyscallConn()
	if err1 != nil || err2 != nil {
		return
	}
	c.outConn, c.outB, c.errB, c.outOpen = outConn, make([]byte, 32<<10), make([]byte, 32<<10), true
	var wg sync.WaitGroup
	wg.Go(func() { readAll(outConn, func(fd int) (bool, error) { return c.take(fd, c.outB, c.out) }) })
	wg.Go(func() {
		readAll(errConn, func(fd int) (bool, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			_ = c.outConn.Control(func(ofd uintptr) {
				for c.outOpen {
					if more, _ := c.readLocked(int(ofd), c.outB, c.out); !more {
						break
					}
				}
			})
			return c.readLocked(fd, c.errB, c.err)
		})
	})
	wg.Wait()
}

// take reads once from fd into to, holding the lock.
func (c *pair) take(fd int, b []byte, to *capped) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readLocked(fd, b, to)
}

// readLocked reads once; more says whether it read bytes (a zero read is
// the end, which marks stdout's).
func (c *pair) readLocked(fd int, b []byte, to *capped) (more bool, err error) {
	n, err := unix.Read(fd, b)
	if n > 0 {
		to.keep(b[:n])
		return true, nil
	}
	if err == nil && to == c.out {
		c.outOpen = false
	}
	return false, err
}

// readAll reads conn until its end: read is called when the descriptor may
// be readable, and says whether it read bytes.
func readAll(conn syscall.RawConn, read func(fd int) (bool, error)) {
	for {
		done := false
		err := conn.Read(func(fd uintptr) bool {
			more, err := read(int(fd))
			if err == unix.EAGAIN {
				return false // wait until it is readable
			}
			done = !more
			return true
		})
		if err != nil || done {
			return
		}
	}
}

func (c *capped) keep(p []byte) {
	room := c.max - int64(len(c.buf))
	if int64(len(p)) > room {
		p = p[:max(room, 0)]
		if !c.truncated {
			c.truncated = true
			c.hit <- onpyrunner.OutputLimit
		}
	}
	if len(p) == 0 {
		return
	}
	c.buf = append(c.buf, p...)
	if c.live != nil {
		_, _ = c.live.Write(p)
	}
}
