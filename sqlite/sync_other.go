//go:build !linux

package sqlite

import "os"

// dataSync makes f durable (fdatasync is Linux's).
func dataSync(f *os.File) error { return f.Sync() }
