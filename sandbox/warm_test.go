package sandbox_test

import (
	"context"
	"testing"

	"github.com/onpyrunner/onpyrunner/sandbox"
)

// TestSlotReplacesDeadZygote: a slot whose zygote died runs the next
// program with a fresh one.
func TestSlotReplacesDeadZygote(t *testing.T) {
	sl, err := sandboxFor(t).NewSlot("python")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	for i := range 3 {
		if i == 1 {
			sandbox.KillSlot(sl)
		}
		res, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte("print(6 * 7)")})
		if err != nil || res.Stdout != "42\n" {
			t.Fatalf("run %d: %+v %v", i, res, err)
		}
	}
}
