//go:build linux

package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

// regrSample is the sample of CPython's own regression tests run in the
// sandbox: files, processes, threads, temporary files, shutil, pathlib,
// subprocess, time, unicode, sqlite, compression.
var regrSample = []string{"test_os", "test_shutil", "test_tempfile", "test_pathlib", "test_subprocess", "test_threading",
	"test_time", "test_str", "test_unicodedata", "test_sqlite3", "test_zlib", "test_gzip", "test_bz2", "test_lzma",
	"test_fileio", "test_glob"}

// regrExcluded are the test cases the sandbox fails by design, and why.
var regrExcluded = map[string]string{
	// A run's network namespace has lo down: no TCP, not even to itself.
	"test_communicate_timeout_large_input":                  "connects to a TCP server on localhost",
	"test_invalid_offset":                                   "os.sendfile to a TCP socket on localhost",
	"test_keywords":                                         "os.sendfile to a TCP socket on localhost",
	"test_offset_overflow":                                  "os.sendfile to a TCP socket on localhost",
	"test_send_at_certain_offset":                           "os.sendfile to a TCP socket on localhost",
	"test_send_whole_file":                                  "os.sendfile to a TCP socket on localhost",
	"test_send_at_certain_offset_with_headers_and_trailers": "os.sendfile to a TCP socket on localhost",
	// The root holds /bin/sh but no coreutils.
	"test_restore_signals": "runs cat",
	// /dev holds null, zero, full, random, urandom and shm: no ptmx.
	"test_open_via_ptsname":    "opens a pseudo-terminal",
	"test_openpty":             "opens a pseudo-terminal",
	"test_posix_pty_functions": "opens a pseudo-terminal",
	// In the run's user namespace an unmapped uid is EINVAL, where a
	// machine of its own says EPERM (the test wants PermissionError).
	"test_user": "setreuid(65534) as an unprivileged user",
}

// regrFailed finds the test cases that failed or erred in regrtest's
// verbose output: "test_x (module.Class.test_x)".
var regrFailed = regexp.MustCompile(`(?m)^(?:FAIL|ERROR): (\S+ \([^)]*\))`)

const regrScript = `import subprocess, sys
r = subprocess.run([sys.executable, "-m", "test", "-v", "-j2", "--timeout", "300"] + sys.argv[1:], capture_output=True, text=True)
for line in r.stdout.splitlines():
    if line.startswith(("FAIL: ", "ERROR: ")) or line.startswith("== Tests result"):
        print(line)
`

// TestRegressionSample runs a sample of CPython's own regression tests
// (Debian's libpython3.X-testsuite) in the sandbox, cold and warm, and bare in the
// same root as an unprivileged uid: the sandbox may fail no test that bare
// passes, but those regrExcluded names.
func TestRegressionSample(t *testing.T) {
	sandboxFor(t)
	_, err := exec.LookPath("mmdebstrap")
	testenv.Require(t, err == nil, "needs mmdebstrap (apt-get install mmdebstrap)")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the runs' inits, unprivileged, walk through
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := runtimes.Add(context.Background(), dir, "python3.14", runtimes.Options{Packages: []string{"libpython3.14-testsuite"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sandbox.New(sandbox.Config{RuntimesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := testenv.CheckProbe(s, rt.Name); err != nil {
		t.Fatalf("probe: the sandbox does not hold: %v", err)
	}
	sl, err := s.NewSlot(rt.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	spec := sandbox.Spec{Runtime: rt.Name, Code: []byte("import sys\nsys.argv[1:] = " + pyList(regrSample) + "\n" + regrScript),
		Limits: onpyrunner.Limits{TimeMs: 600_000, WallTimeMs: 900_000, MemoryMB: 4096, OutputKB: 1024, Processes: 4096,
			FileSizeKB: 512 << 10, OpenFiles: 4096}}
	runs := map[string]*onpyrunner.Result{}
	for how, run := range map[string]func(context.Context, sandbox.Spec) (*onpyrunner.Result, error){"cold": s.Run, "warm": sl.Run} {
		res, err := run(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Stdout, "== Tests result") {
			t.Fatalf("the sample did not run in the sandbox (%s): %s", how, show(res))
		}
		runs[how] = res
	}

	// Bare: the same root, its own /proc and /dev, as the sandbox's
	// program uid, in a mount namespace of its own.
	for _, d := range []string{"proc", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rt.Root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := `mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && mount -t tmpfs -o mode=1777 tmpfs "$0/tmp" && ` +
		`cp /dev/stdin "$0/tmp/regr.py" && chmod 644 "$0/tmp/regr.py" && cd / && exec chroot --userspec=1000:1000 "$0" /usr/bin/python3.14 /tmp/regr.py "$@"`
	bare := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, rt.Root}, regrSample...)...)
	bare.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/tmp"}
	bare.Stdin = strings.NewReader(regrScript)
	out, err := bare.CombinedOutput()
	if !strings.Contains(string(out), "== Tests result") {
		t.Fatalf("the sample did not run bare: %v\n%s", err, out)
	}

	failed := func(s string) []string {
		var ids []string
		for _, m := range regrFailed.FindAllStringSubmatch(s, -1) {
			ids = append(ids, m[1])
		}
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	bareFailed := failed(string(out))
	for how, res := range runs {
		var worse []string
		for _, id := range failed(res.Stdout) {
			name, _, _ := strings.Cut(id, " ")
			if regrExcluded[name] == "" && !slices.Contains(bareFailed, id) {
				worse = append(worse, id)
			}
		}
		t.Logf("%d test files; failed bare: %d cases, in the sandbox (%s): %d (%d excluded)", len(regrSample), len(bareFailed),
			how, len(failed(res.Stdout)), len(failed(res.Stdout))-len(worse))
		if len(worse) > 0 {
			t.Errorf("the sandbox (%s) fails what bare passes:\n%s", how, strings.Join(worse, "\n"))
		}
	}
}

// pyList is a Python list of the strings.
func pyList(ss []string) string {
	return "['" + strings.Join(ss, "', '") + "']"
}
