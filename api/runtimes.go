package api

import (
	"context"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// runtimeCache answers which languages are offered: the configured list,
// or what Config.RuntimeSource says (the live workers'), asked at most
// every few seconds. One ask runs at a time, in the background, and every
// request answers from what is known meanwhile; only while no worker has
// ever said does a request wait for the ask (1 s at most). So a store that
// does not answer costs no request its timeout here, let alone every
// request in turn.
type runtimeCache struct {
	static []Runtime
	source func(context.Context) ([]Runtime, error)

	mu       sync.Mutex
	list     []Runtime
	asked    time.Time
	fetching chan struct{} // open while an ask runs
}

const runtimesFresh = 5 * time.Second

// get returns the languages offered, python (the default) first.
func (c *runtimeCache) get(ctx context.Context) []Runtime {
	if c.source == nil {
		return c.static
	}
	c.mu.Lock()
	if c.fetching == nil && time.Since(c.asked) > runtimesFresh {
		c.fetching = make(chan struct{})
		go c.ask(context.WithoutCancel(ctx), c.fetching)
	}
	list, fetching := c.list, c.fetching
	c.mu.Unlock()
	if len(list) > 0 {
		return list
	}
	if fetching != nil {
		select {
		case <-fetching:
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) == 0 {
		return c.static // no worker has said yet
	}
	return c.list
}

// ask asks the source once and closes done.
func (c *runtimeCache) ask(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rts, err := c.source(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && len(rts) > 0 {
		c.list = onpyrunner.MarkDefaults(rts)
	}
	c.asked, c.fetching = time.Now(), nil
	close(done)
}
