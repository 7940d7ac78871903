package sqlite

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestGroupSync(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	if err := os.WriteFile(db+"-wal", []byte("log"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newGroupSync(db)
	defer g.close()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() { errs <- g.wait() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if g.synced != 50 || g.issued != 50 {
		t.Errorf("synced %d of %d commits", g.synced, g.issued)
	}
	// SQLite made a new log: the next sync flushes that one.
	old := g.f
	if err := os.Remove(db + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+"-wal", []byte("new log"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.wait(); err != nil {
		t.Fatal(err)
	}
	if fi, err := g.f.Stat(); err != nil || g.f == old || fi.Size() != int64(len("new log")) {
		t.Errorf("still syncing the old log: %v", err)
	}
	// No log at all is an error, not a silent success.
	os.Remove(db + "-wal")
	if err := g.wait(); err == nil {
		t.Error("a sync without a log succeeded")
	}
}
