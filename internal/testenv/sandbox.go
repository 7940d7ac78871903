package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// probe shows what hostile programs rely on the sandbox for.
const probe = `import os
st = dict(l.split(':', 1) for l in open('/proc/self/status'))
print(st['Uid'].split()[0], st['NoNewPrivs'].strip(), st['Seccomp'].strip(),
      os.readlink('/proc/self/ns/pid'), os.readlink('/proc/self/ns/mnt'))
`

// CheckProbe runs a probe program in s, on runtime ("" for python), and
// returns an error unless it shows
// that the program runs without root, with no_new_privs and a seccomp
// filter, in its own pid and mount namespaces. Run unsandboxed as root,
// hostile programs would kill processes and fill /dev/shm on this machine:
// no test may run one before this passes.
func CheckProbe(s *sandbox.Sandbox, runtime string) error {
	res, err := s.Run(context.Background(), sandbox.Spec{Runtime: runtime, Code: []byte(probe)})
	if err != nil {
		return err
	}
	f := strings.Fields(res.Stdout)
	if len(f) != 5 {
		return fmt.Errorf("probe printed %q (stderr %q)", res.Stdout, res.Stderr)
	}
	hostPid, _ := os.Readlink("/proc/self/ns/pid")
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	switch {
	case f[0] == "0":
		return fmt.Errorf("program runs as uid 0")
	case f[1] != "1":
		return fmt.Errorf("no_new_privs is not set")
	case f[2] != "2":
		return fmt.Errorf("no seccomp filter")
	case f[3] == hostPid:
		return fmt.Errorf("program shares the host's pid namespace")
	case f[4] == hostMnt:
		return fmt.Errorf("program shares the host's mount namespace")
	}
	return nil
}

var (
	sbOnce sync.Once
	sb     *sandbox.Sandbox
	sbErr  error
)

// Sandbox returns the process's one sandbox once the probe has passed in
// it. It skips t where this is not root (fails it in CI), and fails t when
// the sandbox cannot start or does not hold.
func Sandbox(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	Root(t)
	sbOnce.Do(func() {
		if sb, sbErr = sandbox.New(sandbox.Config{}); sbErr == nil {
			if sbErr = CheckProbe(sb, ""); sbErr != nil {
				sbErr = fmt.Errorf("probe: the sandbox does not hold: %w", sbErr)
			}
		}
	})
	if sbErr != nil {
		t.Fatal(sbErr)
	}
	return sb
}

// RuntimesDir is where the tests find the runtimes built with 'onpyrunner
// runtime add' (CI builds them): $ONPYRUNNER_RUNTIMES, else the default.
func RuntimesDir() string {
	if d := os.Getenv("ONPYRUNNER_RUNTIMES"); d != "" {
		return d
	}
	return runtimes.DefaultDir
}

// NumpyRuntimesDir is where the tests find a python3.14 runtime built with
// python3-numpy and numpy preloaded (CI builds it: onpyrunner runtime add
// python3.14 --packages python3-numpy --preload numpy,numpy.random
// --runtimes DIR): $ONPYRUNNER_NUMPY_RUNTIMES, else
// /var/lib/onpyrunner/runtimes-numpy.
func NumpyRuntimesDir() string {
	if d := os.Getenv("ONPYRUNNER_NUMPY_RUNTIMES"); d != "" {
		return d
	}
	return "/var/lib/onpyrunner/runtimes-numpy"
}
