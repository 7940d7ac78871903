//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Host uids come in blocks, one per sandbox process on the host (several
// services, or an API and its workers, may share a machine): a process
// claims a block with an exclusive lock on a file named after it, which the
// kernel drops when the process dies.
const (
	uidFirstBase  = 2_000_000_000
	uidBlockSize  = 4096
	uidBlockCount = 64
)

// claimUIDBlock locks a block of host uids and returns its base and the
// lock, which must stay open while the sandbox is in use. With base 0 it
// takes the first free block; otherwise that block or none.
func claimUIDBlock(lockDir string, base int) (int, *os.File, error) {
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return 0, nil, fmt.Errorf("sandbox: %w", err)
	}
	bases := []int{base}
	if base == 0 {
		bases = bases[:0]
		for i := range uidBlockCount {
			bases = append(bases, uidFirstBase+i*uidBlockSize)
		}
	}
	for _, b := range bases {
		f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(b)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return 0, nil, fmt.Errorf("sandbox: %w", err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return b, f, nil
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return 0, nil, fmt.Errorf("sandbox: lock uid block %d: %w", b, err)
		}
	}
	if base != 0 {
		return 0, nil, fmt.Errorf("sandbox: host uids from %d are in use by another sandbox process", base)
	}
	return 0, nil, fmt.Errorf("sandbox: all %d blocks of host uids are in use by other sandbox processes", uidBlockCount)
}
