// Package testenv holds what the project's tests share: where shared/ is,
// and the rule that a test may skip only where the machine truly lacks
// what it needs, never in CI.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Require skips t when ok is false, or fails it in CI (CI=true), where
// every test must run.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skip(why)
}

// Root requires that the test runs as root.
func Root(t testing.TB) { Require(t, os.Geteuid() == 0, "needs root") }

// Shared is the path of the shared/ folder beside the repository, or
// $ONPYRUNNER_SHARED where a test binary runs away from its source tree.
func Shared() string {
	if d := os.Getenv("ONPYRUNNER_SHARED"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
}
