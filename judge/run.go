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

// Lender lends a job's tests the runners of idle slots, so that some of
// them run at the same time as the job's own runner runs others.
type Lender interface {
	// Borrow returns an idle runner at once, or nil when there is none
	// worth lending for req.
	Borrow(req onpyrunner.RunRequest) Runner
	// Return gives back a runner that Borrow lent.
	Return(Runner)
	// Freed hears, now and then, that a runner may have become idle: a
	// test waiting for a runner tries Borrow again then, as it does
	// whenever a test ends.
	Freed() <-chan struct{}
}

// Run runs req once per test of jg, each with its test's input as stdin,
// compares each output with the expected one, and sums the job up in one
// Result (onpyrunner.Result's Passed and the fields after it). The tests
// start in order on r; where lend (which may be nil) lends an idle
// runner, the next one starts there at once (tried whenever a test ends
// or lend says a runner is freed). Whatever ran where, the
// result is the one of running them one after another: onTest, when set,
// hears of each test in order, as soon as it and those before it have
// ended, and with StopOnFirstFailure every test after the first failure
// is skipped (one that had started already is stopped, its run dropped).
// A runner's error ends it: the job could not be run (a cancel among
// them). Tests run at once would interleave their output, so req's
// Stdout and Stderr are left unset: each test's output is in its
// TestResult.
func Run(ctx context.Context, r Runner, lend Lender, req onpyrunner.RunRequest, jg onpyrunner.Judging, onTest func(onpyrunner.TestResult)) (*onpyrunner.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type ended struct {
		i    int
		res  *onpyrunner.Result
		err  error
		on   Runner
		lent bool
	}
	n := len(jg.Tests)
	ends := make(chan ended)
	runs := make([]*onpyrunner.Result, n)
	stops := make([]context.CancelFunc, n)
	j := &judged{jg: jg, onTest: onTest, stopAt: n, res: &onpyrunner.Result{Verdict: onpyrunner.OK}}
	var failure error
	next, running, own := 0, 0, true
	for {
		for failure == nil && next < j.stopAt {
			var on Runner
			lent := !own
			if own {
				on, own = r, false
			} else if lend != nil {
				on = lend.Borrow(req)
			}
			if on == nil {
				break
			}
			tctx, stop := context.WithCancel(ctx)
			stops[next] = stop
			treq := req
			treq.Stdin, treq.Stdout, treq.Stderr = strings.NewReader(jg.Tests[next].Input), nil, nil
			go func(i int) {
				res, err := on.Run(tctx, treq)
				ends <- ended{i, res, err, on, lent}
			}(next)
			next++
			running++
		}
		j.tell() // what the last end judged, now that its runner has work again
		if running == 0 {
			break
		}
		var freed <-chan struct{}
		if lend != nil && failure == nil && next < j.stopAt {
			freed = lend.Freed()
		}
		var e ended
		select {
		case e = <-ends:
		case <-freed:
			continue
		}
		running--
		stops[e.i]()
		if e.lent {
			lend.Return(e.on)
		} else {
			own = true
		}
		switch {
		case e.i >= j.stopAt: // skipped since it started
		case e.err != nil:
			if failure == nil {
				failure = e.err
				cancel()
			}
		default:
			runs[e.i] = e.res
			for j.shown < j.stopAt && runs[j.shown] != nil {
				if j.show(runs[j.shown]) {
					for _, stop := range stops[j.stopAt:next] {
						stop() // after the first failure: their runs count for nothing
					}
				}
			}
		}
	}
	if failure != nil {
		return nil, failure
	}
	return j.sum(), nil
}

// judged is a job's tests' results as they are shown, in order.
type judged struct {
	jg     onpyrunner.Judging
	onTest func(onpyrunner.TestResult)
	res    *onpyrunner.Result
	passed int
	shown  int // the tests judged so far
	told   int // the tests told of so far
	stopAt int // the tests from here on are skipped (the number of tests, unless one failed with StopOnFirstFailure)
	// first and last are the first failing test's run and the last run
	// judged.
	first, last *onpyrunner.Result
}

// name is test i's name.
func (j *judged) name(i int) string {
	if n := j.jg.Tests[i].Name; n != "" {
		return n
	}
	return strconv.Itoa(i + 1)
}

// show judges the next test's run res and adds it to the sum; it says
// whether the tests after it are skipped now.
func (j *judged) show(res *onpyrunner.Result) bool {
	t, sum := j.jg.Tests[j.shown], j.res
	tr := onpyrunner.TestResult{Name: j.name(j.shown), Verdict: res.Verdict, ExitCode: res.ExitCode, Signal: res.Signal,
		TimeMs: res.TimeMs, WallMs: res.WallTimeMs, MemoryKB: res.MemoryKB,
		Stdout: cut(res.Stdout), Stderr: cut(res.Stderr)}
	switch {
	case res.Verdict != onpyrunner.OK:
		tr.Judgement = onpyrunner.Judgement(res.Verdict)
	default:
		if tr.Diff = Compare(Mode(j.jg.Compare), t.ExpectedOutput, res.Stdout, j.jg.Tolerance); tr.Diff == nil {
			tr.Judgement = onpyrunner.Accepted
		} else {
			tr.Judgement = onpyrunner.WrongAnswer
		}
	}
	stop := false
	if tr.Judgement == onpyrunner.Accepted {
		j.passed++
	} else if j.first == nil {
		j.first, sum.FirstFailure = res, tr.Name
		if j.jg.StopOnFirstFailure {
			j.stopAt, stop = j.shown+1, true
		}
	}
	j.last = res
	sum.TimeMs, sum.WallTimeMs, sum.MemoryKB = max(sum.TimeMs, res.TimeMs), max(sum.WallTimeMs, res.WallTimeMs), max(sum.MemoryKB, res.MemoryKB)
	j.add(tr)
	return stop
}

// add keeps tr, the next test's result.
func (j *judged) add(tr onpyrunner.TestResult) {
	j.res.Tests = append(j.res.Tests, tr)
	j.shown++
}

// tell tells onTest of the tests judged since it last did.
func (j *judged) tell() {
	for ; j.told < j.shown; j.told++ {
		if j.onTest != nil {
			j.onTest(j.res.Tests[j.told])
		}
	}
}

// sum is the job's result, once every test not skipped is judged: the
// skipped ones told of, and the first failing run's verdict and output
// (else the last one's) shown.
func (j *judged) sum() *onpyrunner.Result {
	for j.shown < len(j.jg.Tests) {
		j.add(onpyrunner.TestResult{Name: j.name(j.shown), Judgement: onpyrunner.Skipped})
	}
	j.tell()
	sum, total := j.res, len(j.jg.Tests)
	sum.Passed, sum.Total = &j.passed, &total
	shown := j.first
	if shown == nil {
		shown = j.last
	}
	if shown != nil {
		sum.Verdict, sum.ExitCode, sum.Signal = shown.Verdict, shown.ExitCode, shown.Signal
		sum.Stdout, sum.Stderr, sum.StdoutTruncated, sum.StderrTruncated = shown.Stdout, shown.Stderr, shown.StdoutTruncated, shown.StderrTruncated
	}
	return sum
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
