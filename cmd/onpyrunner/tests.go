package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/onpyrunner/onpyrunner"
)

// readTests reads the tests of a folder: each N.in with its N.out (or
// N.ans) as the expected output, ordered by N (numbers as numbers).
func readTests(dir string) ([]onpyrunner.Test, error) {
	ins, err := filepath.Glob(filepath.Join(dir, "*.in"))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ins, func(a, b string) int {
		na, ea := strconv.Atoi(strings.TrimSuffix(filepath.Base(a), ".in"))
		nb, eb := strconv.Atoi(strings.TrimSuffix(filepath.Base(b), ".in"))
		if ea == nil && eb == nil && na != nb {
			return cmp.Compare(na, nb)
		}
		return strings.Compare(a, b)
	})
	var tests []onpyrunner.Test
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in")
		input, err := os.ReadFile(in)
		if err != nil {
			return nil, err
		}
		want, err := os.ReadFile(base + ".out")
		if os.IsNotExist(err) {
			want, err = os.ReadFile(base + ".ans")
		}
		if err != nil {
			return nil, fmt.Errorf("test %s: no %s.out or .ans: %w", filepath.Base(base), filepath.Base(base), err)
		}
		tests = append(tests, onpyrunner.Test{Name: filepath.Base(base), Input: string(input), ExpectedOutput: string(want)})
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no tests in %s (N.in with N.out or N.ans)", dir)
	}
	return tests, nil
}

// printTest prints one line for a test's end.
func printTest(w io.Writer, tr onpyrunner.TestResult) {
	line := fmt.Sprintf("%-8s %-16s %5d ms %7.1f MiB", tr.Name, tr.Judgement, tr.TimeMs, float64(tr.MemoryKB)/1024)
	if d := tr.Diff; d != nil {
		line += fmt.Sprintf("  line %d: expected %q, got %q", d.Line, d.Expected, d.Got)
	}
	fmt.Fprintln(w, line)
}

// testsExit prints the summary and returns the exit code: 0 when every
// test was accepted, else 1.
func testsExit(w io.Writer, res *onpyrunner.Result) int {
	fmt.Fprintf(w, "passed %d of %d\n", *res.Passed, *res.Total)
	if *res.Passed == *res.Total {
		return 0
	}
	return 1
}
