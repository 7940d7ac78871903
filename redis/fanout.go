package redis

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// fanout serves every reader of live logs in this process from one Redis
// connection: a single reader blocks in one XREAD on the streams of all the
// jobs somebody waits on, and hands each waiter what came on its job. So
// thousands of waiting clients (event streams, ?wait=, the workers of
// interactive jobs) hold one connection, not one each, and the pool stays
// free for everything else. A new waiter wakes the blocked reader to read
// its stream too: it adds an entry to this process's wake stream, which
// the reader always reads from the last entry it saw, so a wake that
// comes before the XREAD starts to block still ends it at once.
type fanout struct {
	rdb  *goredis.Client
	wake string // the wake stream's key

	mu      sync.Mutex
	waiters map[string][]*waiter // by stream key
	running bool
	reading bool   // the reader reads a set of streams made before the newest waiter's
	woken   string // the last wake entry the reader saw
}

// waiter is one reader waiting for the entries of a stream after Seq after.
type waiter struct {
	after int
	got   chan read // buffered: the reader never blocks on a waiter
}

type read struct {
	msgs []goredis.XMessage
	err  error
}

func newFanout(rdb *goredis.Client, wake string) *fanout {
	return &fanout{rdb: rdb, wake: wake, woken: "0-0", waiters: map[string][]*waiter{}}
}

// wakeTTL is how long the wake stream outlives its last entry.
const wakeTTL = time.Hour

// wait returns the entries of stream key after Seq after, once there are
// some, or nothing when ctx ends.
func (f *fanout) wait(ctx context.Context, key string, after int) ([]goredis.XMessage, error) {
	w := &waiter{after: after, got: make(chan read, 1)}
	f.mu.Lock()
	f.waiters[key] = append(f.waiters[key], w)
	start := !f.running
	f.running = true
	wake := f.reading
	f.reading = false // one wake-up per read is enough
	f.mu.Unlock()
	if start {
		go f.run()
	}
	if wake {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		pipe := f.rdb.Pipeline()
		pipe.XAdd(wctx, &goredis.XAddArgs{Stream: f.wake, MaxLen: 16, Approx: true, Values: []string{"w", "1"}})
		pipe.Expire(wctx, f.wake, wakeTTL)
		_, _ = pipe.Exec(wctx)
		cancel()
	}
	select {
	case r := <-w.got:
		return r.msgs, r.err
	case <-ctx.Done():
		f.mu.Lock()
		f.drop(key, w)
		f.mu.Unlock()
		select {
		case r := <-w.got: // it came meanwhile
			return r.msgs, r.err
		default:
			return nil, nil
		}
	}
}

// drop forgets w; f.mu is held.
func (f *fanout) drop(key string, w *waiter) {
	ws := f.waiters[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(f.waiters, key)
	} else {
		f.waiters[key] = ws
	}
}

// run is the reader: it reads for the waiters there are, until none is left.
func (f *fanout) run() {
	ctx := context.Background()
	for {
		f.mu.Lock()
		if len(f.waiters) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		streams := make([]string, 0, 2*len(f.waiters)+2)
		var ids []string
		for key, ws := range f.waiters {
			from := ws[0].after
			for _, w := range ws[1:] {
				from = min(from, w.after)
			}
			streams, ids = append(streams, key), append(ids, "0-"+strconv.Itoa(max(from, 0)))
		}
		streams, ids = append(streams, f.wake), append(ids, f.woken)
		f.reading = true
		f.mu.Unlock()
		streams = append(streams, ids...)

		res, err := f.rdb.XRead(ctx, &goredis.XReadArgs{Streams: streams, Count: 1000, Block: blockFor}).Result()
		f.mu.Lock()
		f.reading = false
		f.deliver(res)
		f.mu.Unlock()
		if err != nil && !errors.Is(err, goredis.Nil) {
			f.fail(err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// deliver hands each waiter the entries after its Seq; f.mu is held.
func (f *fanout) deliver(res []goredis.XStream) {
	for _, st := range res {
		if st.Stream == f.wake {
			if n := len(st.Messages); n > 0 {
				f.woken = st.Messages[n-1].ID
			}
			continue
		}
		for _, w := range f.waiters[st.Stream] {
			var mine []goredis.XMessage
			for _, m := range st.Messages {
				if seq, _ := strconv.Atoi(m.ID[2:]); seq > w.after {
					mine = append(mine, m)
				}
			}
			if len(mine) > 0 {
				w.got <- read{msgs: mine}
				f.drop(st.Stream, w)
			}
		}
	}
}

// fail ends every wait with err.
func (f *fanout) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, ws := range f.waiters {
		for _, w := range ws {
			w.got <- read{err: err}
		}
		delete(f.waiters, key)
	}
}
