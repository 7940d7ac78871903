package sqlite

import (
	"os"

	"golang.org/x/sys/unix"
)

// dataSync makes f's data and size durable, not its other metadata.
func dataSync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
