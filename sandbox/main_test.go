//go:build linux

package sandbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// sb is the sandbox every test shares, with the host's runtimes; nil when
// not root. rooted is one with the runtimes of their own roots too (see
// testenv.RuntimesDir); nil when none is built.
var sb, rooted *sandbox.Sandbox

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
		if err := testenv.CheckProbe(sb, ""); err != nil {
			fmt.Fprintln(os.Stderr, "probe: the sandbox does not hold, no test runs:", err)
			os.Exit(1)
		}
		if rts, _ := runtimes.List(testenv.RuntimesDir()); len(rts) > 0 {
			if rooted, err = sandbox.New(sandbox.Config{RuntimesDir: testenv.RuntimesDir()}); err != nil {
				fmt.Fprintln(os.Stderr, "sandbox with runtimes:", err)
				os.Exit(1)
			}
			for _, rt := range rts {
				if err := testenv.CheckProbe(rooted, rt.Name); err != nil {
					fmt.Fprintf(os.Stderr, "probe on %s: the sandbox does not hold, no test runs: %v\n", rt.Name, err)
					os.Exit(1)
				}
			}
		}
	}
	os.Exit(m.Run())
}
