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
// every few seconds.
type runtimeCache struct {
	static []Runtime
	source func(context.Context) ([]Runtime, error)

	mu      sync.Mutex
	list    []Runtime
	fetched time.Time
}

const runtimesFresh = 5 * time.Second

// get returns the languages offered, python (the default) first.
func (c *runtimeCache) get(ctx context.Context) []Runtime {
	if c.source == nil {
		return c.static
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.fetched) > runtimesFresh {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if rts, err := c.source(ctx); err == nil && len(rts) > 0 {
			c.list, c.fetched = sortRuntimes(rts), time.Now()
		}
	}
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
