//go:build linux

package sandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// TestPid1Program runs the tiny pid 1 on the host as root: it becomes the
// uid asked, lives on through SIGCHLD, and exits 1 on SIGTERM; run as
// another uid, it cannot become the uid asked and exits 1 at once. (Run here
// it is no namespace's init: the kernel's dropping of other signals sent
// to an init is the corpus's to show.)
func TestPid1Program(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		if sandbox.Pid1Program(1000) != nil {
			t.Fatal("a program for another architecture")
		}
		t.Skip("amd64 only")
	}
	testenv.Root(t)
	bin := filepath.Join(t.TempDir(), "pid1")
	if err := os.WriteFile(bin, sandbox.Pid1Program(2_000_261_000), 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(bin); strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // for nobody too
	}
	t.Run("unprivileged", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("run as nobody: %v, want exit status 1", err)
		}
	})
	for _, tc := range []struct {
		sig  syscall.Signal
		ends bool
	}{{syscall.SIGCHLD, false}, {syscall.SIGTERM, true}} {
		cmd := exec.Command(bin)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(st), "Uid:\t2000261000\t2000261000\t2000261000") {
			t.Errorf("uid not taken:\n%s", st)
		}
		_ = cmd.Process.Signal(tc.sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if !tc.ends {
				t.Errorf("%v ended it: %v", tc.sig, err)
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("%v: %v, want exit status 1", tc.sig, err)
			}
		case <-time.After(300 * time.Millisecond):
			if tc.ends {
				t.Errorf("%v did not end it", tc.sig)
			}
			_ = cmd.Process.Kill()
			<-done
		}
	}
}
