package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner/sandbox"
)

// sb is the sandbox every test shares; nil when not root.
var sb *sandbox.Sandbox

// probe shows what the hostile corpus relies on. TestMain runs it first and
// stops everything unless it proves the sandbox holds: run unsandboxed as
// root, the corpus would kill processes and fill /dev/shm on this machine.
const probe = `import os
st = dict(l.split(':', 1) for l in open('/proc/self/status'))
print(st['Uid'].split()[0], st['NoNewPrivs'].strip(), st['Seccomp'].strip(),
      os.readlink('/proc/self/ns/pid'), os.readlink('/proc/self/ns/mnt'))
`

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		var err error
		if sb, err = sandbox.New(sandbox.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(1)
		}
		if err := checkProbe(); err != nil {
			fmt.Fprintln(os.Stderr, "probe: the sandbox does not hold, no test runs:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func checkProbe() error {
	res, err := sb.Run(context.Background(), sandbox.Spec{Code: []byte(probe)})
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
