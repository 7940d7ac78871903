//go:build linux

package sandbox

import (
	"io"

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

// drain reads r to its end. It never uses a line reader: one line may be
// any length.
func (c *capped) drain(r io.Reader) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			c.keep(chunk[:n])
		}
		if err != nil {
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
