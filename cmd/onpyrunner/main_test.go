package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

func cli(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func prog(t *testing.T, code string) string {
	p := filepath.Join(t.TempDir(), "prog.py")
	if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunJSON(t *testing.T) {
	testenv.Root(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("Ada\n"), 0o644)
	code, out, errs := cli(t, nil, "", "run", "--json", "--input", in, prog(t, "print('hi', input())"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %q", out)
	}
	for _, k := range []string{"verdict", "exitCode", "signal", "stdout", "stderr", "stdoutTruncated", "stderrTruncated", "timeMs", "wallTimeMs", "memoryKB"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result lacks %q: %s", k, out)
		}
	}
	if res["verdict"] != "ok" || res["stdout"] != "hi Ada\n" {
		t.Errorf("result %s", out)
	}
	// A limit is a verdict, and --json still exits 0.
	code, out, _ = cli(t, nil, "", "run", "--json", "--time", "300ms", prog(t, "while True: pass"))
	var r onpyrunner.Result
	if json.Unmarshal([]byte(out), &r); code != 0 || r.Verdict != onpyrunner.TimeLimit {
		t.Errorf("spin: exit %d, %s", code, out)
	}
}

func TestRunPassThrough(t *testing.T) {
	testenv.Root(t)
	code, out, errs := cli(t, nil, "print('x' * 3)", "run", "-")
	if code != 0 || out != "xxx\n" {
		t.Errorf("program from stdin: exit %d out %q err %q", code, out, errs)
	}
	code, out, errs = cli(t, nil, "", "run", prog(t, "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"))
	if code != 3 || out != "out\n" || errs != "err\n" {
		t.Errorf("exit %d out %q err %q", code, out, errs)
	}
	// Flags fall back to ONPYRUNNER_<FLAG>. The wall limit interrupts the
	// program first (SIGINT: 130), so that it flushes what it printed.
	code, out, errs = cli(t, map[string]string{"ONPYRUNNER_WALL_TIME": "300ms"}, "", "run", prog(t, "import time\nprint('before')\ntime.sleep(5)"))
	if code != 130 || out != "before\n" || !strings.Contains(errs, "KeyboardInterrupt") || !strings.Contains(errs, "ran longer than 300 ms") {
		t.Errorf("wall limit from env: exit %d err %q", code, errs)
	}
}

// TestRunStdin: a pipe or file on stdin is the program's input, as
// `run sol.py < in.txt` expects; --input - says so outright; a terminal
// (here /dev/null, a character device too) is no input.
func TestRunStdin(t *testing.T) {
	testenv.Sandbox(t) // the probe, before any program runs
	echo := prog(t, "import sys\nprint(repr(sys.stdin.read()))")
	for _, c := range []struct {
		name  string
		stdin io.Reader
		args  []string
		want  string
	}{
		{"pipe", strings.NewReader("Ada\n"), nil, "'Ada\\n'\n"},
		{"--input -", strings.NewReader("Bob"), []string{"--input", "-"}, "'Bob'\n"},
		{"terminal", nil, nil, "''\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], append(append([]string{"run"}, c.args...), echo)...)
			cmd.Env = append(os.Environ(), "ONPYRUNNER_TEST_MAIN=1")
			cmd.Stdin = c.stdin // nil: /dev/null
			out, err := cmd.Output()
			if err != nil || string(out) != c.want {
				t.Errorf("stdout %q (%v), want %q", out, err, c.want)
			}
		})
	}
	if code, _, errs := cli(t, nil, "print(1)", "run", "--input", "-", "-"); code != 2 || !strings.Contains(errs, "both") {
		t.Errorf("stdin as program and input: exit %d %q", code, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errs := cli(t, nil, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := cli(t, nil, "", "run", "--memory", "lots", "x.py"); code != 2 || !strings.Contains(errs, "memory") {
		t.Errorf("bad size: %d %q", code, errs)
	}
	// A size that is not a whole number of the limit's unit is refused,
	// never rounded to 0 (which would be "no maximum"); the error is one
	// line, not the whole usage.
	for _, args := range [][]string{{"run", "--memory", "512KiB", "x.py"}, {"serve", "--max-memory", "512KiB"},
		{"serve", "--max-output", "100"}} {
		code, _, errs := cli(t, nil, "", args...)
		if code != 2 || !strings.Contains(errs, "not a whole number of") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	if code, _, errs := cli(t, map[string]string{"ONPYRUNNER_TIME": "banana"}, "", "run", "x.py"); code != 2 || !strings.Contains(errs, "2s") {
		t.Errorf("bad value from the environment: exit %d, %q, want the expected form", code, errs)
	}
	if code, _, _ := cli(t, nil, "", "run", "-h"); code != 0 {
		t.Errorf("-h exit %d", code)
	}
	// A worker's help lists what applies to a worker only.
	if code, _, errs := cli(t, nil, "", "worker", "-h"); code != 0 || !strings.Contains(errs, "-redis") ||
		strings.Contains(errs, "-data") || strings.Contains(errs, "-queue") {
		t.Errorf("worker -h: exit %d, %q", code, errs)
	}
	if code, _, errs := cli(t, nil, "", "run", "/nonexistent.py"); code != 2 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: %d %q", code, errs)
	}
}

func TestRunUnknownRuntime(t *testing.T) {
	testenv.Root(t)
	code, _, errs := cli(t, nil, "", "run", "--language", "cobol", prog(t, "print(1)"))
	if code != 1 || !strings.Contains(errs, "runtime not installed") || !strings.Contains(errs, "installed: ") || !strings.Contains(errs, "python") {
		t.Errorf("exit %d err %q", code, errs)
	}
}

// TestRunRemovesCgroups: `run` removes the cgroup directories it made as
// it ends (TestServeSIGTERM checks serve's).
func TestRunRemovesCgroups(t *testing.T) {
	testenv.Sandbox(t) // the probe, before any program runs
	cmd := exec.Command(os.Args[0], "run", prog(t, "print(1)"))
	cmd.Env = append(os.Environ(), "ONPYRUNNER_TEST_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "1\n" {
		t.Fatalf("run: %v %q", err, out)
	}
	if dirs := ownCgroupDirs(t, cmd.Process.Pid); len(dirs) > 0 {
		t.Errorf("cgroup directories left: %v", dirs)
	}
}

// ownCgroupDirs lists the cgroup directories that process pid, a child of
// this one, makes for its runs (onpyrunner-PID beside or below this
// process's own cgroups).
func ownCgroupDirs(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	name := "onpyrunner-" + strconv.Itoa(pid)
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	mounts = append(mounts, "/sys/fs/cgroup")
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, m := range mounts {
			for _, d := range []string{parts[2], filepath.Dir(parts[2])} {
				p := filepath.Join(m, d, name)
				if st, err := os.Stat(p); err == nil && st.IsDir() && !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// TestVersion: `version` and `--version` name the build and the runtimes.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := cli(t, nil, "", args...)
		if code != 0 || !strings.HasPrefix(out, "onpyrunner ") || !strings.Contains(out, "python  Python 3.") {
			t.Errorf("%v: exit %d, out %q, err %q", args, code, out, errs)
		}
	}
}
