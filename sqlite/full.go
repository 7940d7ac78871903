package sqlite

import (
	"errors"
	"fmt"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// fullFor is how long a store that hit a full disk says so (readyz 503)
// after its last write that failed for it.
const fullFor = 30 * time.Second

// sqliteFull is SQLite's result code for "database or disk is full".
const sqliteFull = 13

// fail words a database error: a full disk is a 503 that says so (and
// readiness fails for a while), anything else an internal error.
func (s *Store) fail(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == sqliteFull {
		s.fullAt.Store(time.Now().UnixNano())
		return diskFull()
	}
	return fmt.Errorf("sqlite: %w", err)
}

func diskFull() error {
	return onpyrunner.Errorf(onpyrunner.CodeUnavailable, "the server's disk is full; try again later")
}

// full reports whether a write failed for a full disk in the last fullFor.
func (s *Store) full() bool {
	at := s.fullAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < fullFor
}
