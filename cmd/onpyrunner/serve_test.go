package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// TestMain lets a test start this test binary as the onpyrunner command,
// to kill it and start it again.
func TestMain(m *testing.M) {
	if os.Getenv("ONPYRUNNER_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// server is an onpyrunner command (serve or worker) running as a child
// process.
type server struct {
	cmd    *exec.Cmd
	url    string
	client *client.Client
	mu     sync.Mutex
	log    strings.Builder
	exited chan error
}

var (
	listening = regexp.MustCompile(`msg=listening url=(\S+)`)
	working   = regexp.MustCompile(`msg=worker slots=`)
)

// startServe starts `onpyrunner serve` on a free loopback port.
func startServe(t testing.TB, args ...string) *server {
	t.Helper()
	s := startCmd(t, listening, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.client = client.New(s.url, nil)
	return s
}

// startWorker starts `onpyrunner worker`.
func startWorker(t testing.TB, args ...string) *server {
	t.Helper()
	return startCmd(t, working, append([]string{"worker"}, args...)...)
}

// startCmd starts this test binary as the onpyrunner command and waits for
// the log line ready matches.
func startCmd(t testing.TB, ready *regexp.Regexp, args ...string) *server {
	t.Helper()
	testenv.Sandbox(t) // the probe, before any program runs
	s := &server{exited: make(chan error, 1)}
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Env = append(os.Environ(), "ONPYRUNNER_TEST_MAIN=1")
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	up := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				up <- m[len(m)-1]
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", args[0], s.logText())
		}
	})
	select {
	case s.url = <-up:
	case err := <-s.exited:
		t.Fatalf("%s exited: %v\n%s", args[0], err, s.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start\n%s", args[0], s.logText())
	}
	return s
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// waitExit waits for the server to exit and returns how it did.
func (s *server) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-s.exited:
		return err
	case <-time.After(within):
		t.Fatalf("serve still runs after %v\n%s", within, s.logText())
		return nil
	}
}

// untilRunning waits until a job has printed, so it is surely running.
func untilRunning(t *testing.T, c *client.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	printed := errors.New("printed")
	if _, err := c.Events(ctx, id, 0, func(ev client.Event) error {
		if ev.Type == "stdout" {
			return printed
		}
		return nil
	}); !errors.Is(err, printed) {
		t.Fatalf("job %s did not start: %v", id, err)
	}
}

func submitN(t *testing.T, c *client.Client, n int) (ids []string) {
	t.Helper()
	for i := range n {
		code := fmt.Sprintf("print(%d * 7)", i)
		j, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code}, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	return ids
}

const slowJob = "import time\nprint('a', flush=True)\ntime.sleep(%g)\nprint('b')"

func submitSlow(t *testing.T, c *client.Client, seconds float64) string {
	t.Helper()
	code := fmt.Sprintf(slowJob, seconds)
	j, err := c.Submit(t.Context(), api.SubmitRequest{Code: &code,
		Limits: &api.RequestLimits{WallTimeMs: ptr(int64(seconds*1000) + 5000)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func ptr[T any](v T) *T { return &v }

func checkQuick(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	for i, id := range ids {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		j, err := c.Wait(ctx, id)
		cancel()
		if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != fmt.Sprintf("%d\n", i*7) {
			t.Errorf("queued job %d: %+v %v", i, j, err)
		}
	}
}

// TestServeKill9 kills the server with jobs running and queued, starts it
// again on the same data, and sees every job complete.
func TestServeKill9(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--data", data, "--slots", "1")
	slow := submitSlow(t, s.client, 2)
	untilRunning(t, s.client, slow)
	queued := submitN(t, s.client, 5)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitExit(t, 10*time.Second)

	s = startServe(t, "--data", data, "--slots", "1")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	j, err := s.client.Wait(ctx, slow)
	if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != "a\nb\n" {
		t.Errorf("the job running at the kill: %+v %v, want it run again", j, err)
	}
	checkQuick(t, s.client, queued)
}

// TestServeSIGTERM drains: the running job finishes, queued jobs stay
// queued for the next start, and a job longer than --drain is killed and
// queued again.
func TestServeSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sleep   float64
		drain   string
		slowEnd onpyrunner.Status
	}{
		{"running job finishes", 1, "20s", onpyrunner.Completed},
		{"running job outlasts the drain", 20, "500ms", onpyrunner.Queued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			s := startServe(t, "--data", data, "--slots", "1", "--drain", tc.drain)
			slow := submitSlow(t, s.client, tc.sleep)
			untilRunning(t, s.client, slow)
			queued := submitN(t, s.client, 3)
			if len(ownCgroupDirs(t, s.cmd.Process.Pid)) == 0 {
				t.Errorf("no cgroup directory of serve while it runs a job")
			}
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := s.waitExit(t, 30*time.Second); err != nil {
				t.Fatalf("serve exited with %v after SIGTERM\n%s", err, s.logText())
			}
			if dirs := ownCgroupDirs(t, s.cmd.Process.Pid); len(dirs) > 0 {
				t.Errorf("cgroup directories left after a clean shutdown: %v", dirs)
			}
			store, err := sqlite.Open(sqlite.Config{Dir: data})
			if err != nil {
				t.Fatal(err)
			}
			j, err := store.Get(t.Context(), slow)
			if err != nil || j.Status != tc.slowEnd {
				t.Errorf("the running job after the drain: %+v %v, want %s", j, err, tc.slowEnd)
			}
			for _, id := range queued {
				if j, err := store.Get(t.Context(), id); err != nil || j.Status != onpyrunner.Queued {
					t.Errorf("a queued job after the drain: %+v %v", j, err)
				}
			}
			store.Close()
			s = startServe(t, "--data", data, "--slots", "1")
			if tc.slowEnd == onpyrunner.Queued { // it would run first, for long
				if _, err := s.client.Cancel(t.Context(), slow); err != nil {
					t.Fatal(err)
				}
			}
			checkQuick(t, s.client, queued)
		})
	}
}

// TestSubmitCLI drives a real server with `onpyrunner submit`.
func TestSubmitCLI(t *testing.T) {
	s := startServe(t, "--data", t.TempDir(), "--slots", "1")
	p := prog(t, "import sys\nprint('out', input())\nprint('err', file=sys.stderr)\nsys.exit(4)")
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("Ada\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("wait", func(t *testing.T) {
		code, out, errs := cli(t, nil, "", "submit", "--server", s.url, "--input", in, "--wait", p)
		if code != 4 || out != "out Ada\n" || !strings.Contains(errs, "err\n") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("id", func(t *testing.T) {
		code, out, errs := cli(t, map[string]string{"ONPYRUNNER_SERVER": s.url}, "print(2)", "submit", "-")
		id := strings.TrimSpace(out)
		if code != 0 || len(id) < 26 {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		j, err := s.client.Wait(t.Context(), id)
		if err != nil || j.Result == nil || j.Result.Stdout != "2\n" {
			t.Errorf("job %s: %+v %v", id, j, err)
		}
	})
	t.Run("limit in words", func(t *testing.T) {
		code, _, errs := cli(t, nil, "", "submit", "--server", s.url, "--wait", prog(t, "print('x' * 100000)"))
		if code != 137 || !strings.Contains(errs, "stopped: wrote more than 64 KiB of output") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("interactive", func(t *testing.T) {
		code, out, errs := cli(t, nil, "Ada\n36\n", "submit", "--server", s.url, "--interactive",
			prog(t, "name = input('Your name? ')\nage = input('Age? ')\nprint(name, age)\ninput()"))
		if code != 1 || out != "Your name? Age? Ada 36\n" || !strings.Contains(errs, "EOFError") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("server down", func(t *testing.T) {
		code, _, errs := cli(t, nil, "", "submit", "--server", "http://127.0.0.1:1", p)
		if code != 1 || !strings.Contains(errs, "onpyrunner submit:") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
}
