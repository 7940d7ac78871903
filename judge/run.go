package judge

import (
	"context"
	"strconv"
	"strings"

	"github.com/onpyrunner/onpyrunner"
)

// Runner runs one program: a worker slot's runner, or the sandbox.
type Runner interface {
	Run(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error)
}

// Run runs req once per test of jg, in order, each with its test's input
// as stdin, compares each output with the expected one, and sums the job
// up in one Result (onpyrunner.Result's Passed and the fields after it).
// onTest, when set, hears of each test as it ends. A runner's error ends
// it: the job could not be run (a cancel among them).
func Run(ctx context.Context, r Runner, req onpyrunner.RunRequest, jg onpyrunner.Judging, onTest func(onpyrunner.TestResult)) (*onpyrunner.Result, error) {
	sum := &onpyrunner.Result{Verdict: onpyrunner.OK}
	passed, total := 0, len(jg.Tests)
	sum.Passed, sum.Total = &passed, &total
	var first, last *onpyrunner.Result
	failed := false
	for i, t := range jg.Tests {
		name := t.Name
		if name == "" {
			name = strconv.Itoa(i + 1)
		}
		if failed && jg.StopOnFirstFailure {
			tr := onpyrunner.TestResult{Name: name, Judgement: onpyrunner.Skipped}
			sum.Tests = append(sum.Tests, tr)
			if onTest != nil {
				onTest(tr)
			}
			continue
		}
		req.Stdin = strings.NewReader(t.Input)
		res, err := r.Run(ctx, req)
		if err != nil {
			return nil, err
		}
		tr := onpyrunner.TestResult{Name: name, Verdict: res.Verdict, ExitCode: res.ExitCode, Signal: res.Signal,
			TimeMs: res.TimeMs, WallMs: res.WallTimeMs, MemoryKB: res.MemoryKB,
			Stdout: cut(res.Stdout), Stderr: cut(res.Stderr)}
		switch {
		case res.Verdict != onpyrunner.OK:
			tr.Judgement = onpyrunner.Judgement(res.Verdict)
		default:
			if tr.Diff = Compare(Mode(jg.Compare), t.ExpectedOutput, res.Stdout, jg.Tolerance); tr.Diff == nil {
				tr.Judgement = onpyrunner.Accepted
			} else {
				tr.Judgement = onpyrunner.WrongAnswer
			}
		}
		if tr.Judgement == onpyrunner.Accepted {
			passed++
		} else if !failed {
			failed, first, sum.FirstFailure = true, res, name
		}
		last = res
		sum.TimeMs, sum.WallTimeMs, sum.MemoryKB = max(sum.TimeMs, res.TimeMs), max(sum.WallTimeMs, res.WallTimeMs), max(sum.MemoryKB, res.MemoryKB)
		sum.Tests = append(sum.Tests, tr)
		if onTest != nil {
			onTest(tr)
		}
	}
	shown := first
	if shown == nil {
		shown = last
	}
	if shown != nil {
		sum.Verdict, sum.ExitCode, sum.Signal = shown.Verdict, shown.ExitCode, shown.Signal
		sum.Stdout, sum.Stderr, sum.StdoutTruncated, sum.StderrTruncated = shown.Stdout, shown.Stderr, shown.StdoutTruncated, shown.StderrTruncated
	}
	return sum, nil
}

// cut is output as a TestResult keeps it.
func cut(s string) string {
	if len(s) <= onpyrunner.TestOutputBytes {
		return s
	}
	n := onpyrunner.TestOutputBytes
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}
