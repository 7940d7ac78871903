//go:build linux

package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSlotCPUs: slots get CPUs of their own while there are any left, and
// a closed slot's CPU goes to the next.
func TestSlotCPUs(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var c slotCPUs
	got := map[int]bool{}
	for range set.Count() {
		cpu := c.take()
		if cpu < 0 || got[cpu] || !set.IsSet(cpu) {
			t.Fatalf("took CPU %d after %v (allowed: %d CPUs)", cpu, got, set.Count())
		}
		got[cpu] = true
	}
	if cpu := c.take(); cpu != -1 {
		t.Errorf("a slot beyond the CPUs got CPU %d", cpu)
	}
	for cpu := range got {
		c.give(cpu)
		if again := c.take(); again != cpu {
			t.Errorf("gave back CPU %d, took %d", cpu, again)
		}
		break
	}
	c.give(-1) // an unpinned slot's: nothing
}
