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
// thousands of waiting clients (event streams, ?wait=) hold one connection,
// not one each, and the pool stays free for everything else. A new waiter
// wakes the blocked reader (CLIENT UNBLOCK) to read its stream too.
type fanout struct {
	rdb *goredis.Client

	mu      sync.Mutex
	waiters map[string][]*waiter // by stream key
	running bool
	blocked int64 // the reader's client id while it blocks, else 0
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

func newFanout(rdb *goredis.Client) *fanout {
	return &fanout{rdb: rdb, waiters: map[string][]*waiter{}}
}

// wait returns the entries of stream key after Seq after, once there are
// some, or nothing when ctx ends.
func (f *fanout) wait(ctx context.Context, key string, after int) ([]goredis.XMessage, error) {
	w := &waiter{after: after, got: make(chan read, 1)}
	f.mu.Lock()
	f.waiters[key] = append(f.waiters[key], w)
	start := !f.running
	f.running = true
	blocked := f.blocked
	f.blocked = 0 // one wake-up per block is enough
	f.mu.Unlock()
	if start {
		go f.run()
	}
	if blocked != 0 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = f.rdb.ClientUnblock(wctx, blocked).Err()
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
	var conn *goredis.Conn
	var id int64 // conn's client id
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		f.mu.Lock()
		if len(f.waiters) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		streams := make([]string, 0, 2*len(f.waiters))
		var ids []string
		for key, ws := range f.waiters {
			from := ws[0].after
			for _, w := range ws[1:] {
				from = min(from, w.after)
			}
			streams, ids = append(streams, key), append(ids, "0-"+strconv.Itoa(max(from, 0)))
		}
		f.mu.Unlock()
		streams = append(streams, ids...)

		var err error
		if conn == nil {
			conn = f.rdb.Conn()
			id, err = conn.ClientID(ctx).Result()
		}
		if err == nil {
			f.mu.Lock()
			f.blocked = id
			f.mu.Unlock()
			var res []goredis.XStream
			res, err = conn.XRead(ctx, &goredis.XReadArgs{Streams: streams, Count: 1000, Block: blockFor}).Result()
			f.mu.Lock()
			f.blocked = 0
			f.deliver(res)
			f.mu.Unlock()
		}
		if err != nil && !errors.Is(err, goredis.Nil) {
			f.fail(err)
			conn.Close()
			conn = nil
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// deliver hands each waiter the entries after its Seq; f.mu is held.
func (f *fanout) deliver(res []goredis.XStream) {
	for _, st := range res {
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
