//go:build linux

package sandbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// sb is the sandbox every test shares; nil when not root.
var sb *sandbox.Sandbox

// TestMain runs the probe first and stops everything unless it proves the
// sandbox holds: run unsandboxed as root, the corpus would kill processes
// and fill /dev/shm on this machine.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		var err error
		if sb, err = sandbox.New(sandbox.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(1)
		}
		if err := testenv.CheckProbe(sb); err != nil {
			fmt.Fprintln(os.Stderr, "probe: the sandbox does not hold, no test runs:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}
