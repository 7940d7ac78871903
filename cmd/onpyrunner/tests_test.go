package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

// testsDir writes tests of a+b: 1 and 10 pass (.out, .ans), 2 fails.
func testsDir(t *testing.T) string {
	d := t.TempDir()
	for name, body := range map[string]string{
		"1.in": "1 2\n", "1.out": "3\n", "2.in": "2 2\n", "2.out": "5\n", "10.in": "5 5\n", "10.ans": "10\n",
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

const sumProg = "a, b = map(int, input().split())\nprint(a + b)\n"

// checkTestLines checks the lines of a --tests run: one per test in the
// order of their numbers, then the summary.
func checkTestLines(t *testing.T, code int, out, errs string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 4 || !strings.HasPrefix(lines[0], "1 ") || !strings.Contains(lines[0], "accepted") ||
		!strings.HasPrefix(lines[1], "2 ") || !strings.Contains(lines[1], `wrong_answer`) || !strings.Contains(lines[1], `line 1: expected "5", got "4"`) ||
		!strings.HasPrefix(lines[2], "10 ") || !strings.Contains(lines[2], "accepted") || lines[3] != "passed 2 of 3" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestRunTests(t *testing.T) {
	testenv.Sandbox(t)
	code, out, errs := cli(t, nil, "", "run", "--tests", testsDir(t), prog(t, sumProg))
	checkTestLines(t, code, out, errs)
	if code, _, errs := cli(t, nil, "", "run", "--tests", t.TempDir(), prog(t, sumProg)); code != 2 || !strings.Contains(errs, "no tests") {
		t.Errorf("an empty folder: exit %d, %q", code, errs)
	}
}

func TestSubmitTests(t *testing.T) {
	s := startServe(t, "--data", t.TempDir(), "--slots", "1")
	code, out, errs := cli(t, nil, "", "submit", "--server", s.url, "--tests", testsDir(t), prog(t, sumProg))
	checkTestLines(t, code, out, errs)
}
