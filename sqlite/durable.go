package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// groupSync makes commits durable in groups: the database commits with
// synchronous=NORMAL (its write-ahead log reaches the operating system,
// which a kill -9 cannot undo, but not the disk), and a commit that must
// survive a power cut waits for an fsync of the log that started after it.
// One fsync serves every commit made before it began, so concurrent
// submissions share one, and none holds the writer connection while the
// disk flushes.
type groupSync struct {
	wal string // the log's path

	mu      sync.Mutex
	cond    sync.Cond
	f       *os.File // the log, opened on first use
	issued  uint64   // commits that asked to be made durable
	synced  uint64   // commits known to be durable
	syncing bool     // a caller is flushing; the others wait for it
}

func newGroupSync(db string) *groupSync {
	g := &groupSync{wal: db + "-wal"}
	g.cond.L = &g.mu
	return g
}

// wait returns once every commit made before it was called is on disk.
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.issued++
	me := g.issued
	for g.synced < me {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		upto := g.issued
		g.mu.Unlock()
		err := g.flush()
		g.mu.Lock()
		g.syncing = false
		if err != nil {
			g.cond.Broadcast() // another waiter tries again
			return fmt.Errorf("sqlite: make the commit durable: %w", err)
		}
		g.synced = max(g.synced, upto)
		g.cond.Broadcast()
	}
	return nil
}

// flush fsyncs the log, through a descriptor kept open for it; it opens
// the log again if SQLite has replaced it since (only when every
// connection closed, which the store's never all do).
func (g *groupSync) flush() error {
	if g.f != nil {
		cur, err1 := os.Stat(g.wal)
		held, err2 := g.f.Stat()
		if err1 != nil || err2 != nil || !os.SameFile(cur, held) {
			g.f.Close()
			g.f = nil
		}
	}
	if g.f == nil {
		f, err := os.OpenFile(g.wal, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		// The log's directory entry, made when the database opened.
		if d, err := os.Open(filepath.Dir(g.wal)); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				f.Close()
				return err
			}
		}
		g.f = f
	}
	return dataSync(g.f) // as SQLite syncs: the log's data and size
}

func (g *groupSync) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
}
