package api

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// runtimeCache answers which languages are offered: the configured list,
// or what Config.RuntimeSource says (the live workers'), asked at most
// every few seconds. One request at a time asks, without holding up the
// others, which answer from what is known; a failed ask waits its turn
// too, so that a store that does not answer costs one request its timeout,
// not every request in turn.
type runtimeCache struct {
	static []Runtime
	source func(context.Context) ([]Runtime, error)

	mu       sync.Mutex
	list     []Runtime
	asked    time.Time
	fetching bool
}

const runtimesFresh = 5 * time.Second

// get returns the languages offered, python (the default) first.
func (c *runtimeCache) get(ctx context.Context) []Runtime {
	if c.source == nil {
		return c.static
	}
	c.mu.Lock()
	ask := !c.fetching && time.Since(c.asked) > runtimesFresh
	c.fetching = c.fetching || ask
	c.mu.Unlock()
	if ask {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rts, err := c.source(ctx)
		cancel()
		c.mu.Lock()
		if err == nil && len(rts) > 0 {
			c.list = sortRuntimes(rts)
		}
		c.asked, c.fetching = time.Now(), false
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) == 0 {
		return c.static // no worker has said yet
	}
	return c.list
}

// sortRuntimes puts python first, then the rest by name.
func sortRuntimes(rts []Runtime) []Runtime {
	rts = slices.Clone(rts)
	slices.SortFunc(rts, func(a, b onpyrunner.Runtime) int {
		switch {
		case a.Language == b.Language:
			return 0
		case a.Language == "python":
			return -1
		case b.Language == "python":
			return 1
		}
		return strings.Compare(a.Language, b.Language)
	})
	return rts
}
