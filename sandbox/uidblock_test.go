//go:build linux

package sandbox

import (
	"strings"
	"testing"
)

func TestClaimUIDBlock(t *testing.T) {
	dir := t.TempDir()
	a, fa, err := claimUIDBlock(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, fb, err := claimUIDBlock(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a != uidFirstBase || b != uidFirstBase+uidBlockSize {
		t.Errorf("blocks %d and %d, want the first two", a, b)
	}
	if _, _, err := claimUIDBlock(dir, a); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a block in use taken again: %v", err)
	}
	fa.Close() // the holder ends: its block is free again
	if c, fc, err := claimUIDBlock(dir, 0); err != nil || c != a {
		t.Errorf("after release got %d %v, want %d", c, err, a)
	} else {
		fc.Close()
	}
	fb.Close()
}
