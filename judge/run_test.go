package judge_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/judge"
)

// script is a fake program: each test's input is a list of steps,
// "wait K" (until some test says "done K", or the run is stopped), "done
// K", "fail" (the runner's error) and "say X" (X is its output).
type script struct {
	mu      sync.Mutex
	done    map[string]chan struct{}
	running int // runs under way
	most    int // the most at once
}

func (s *script) ch(k string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[k] == nil {
		s.done[k] = make(chan struct{})
	}
	return s.done[k]
}

// runner is one slot's runner of the script; busy catches two runs at
// once on one runner.
type runner struct {
	s    *script
	busy sync.Mutex
}

func (r *runner) Run(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
	if !r.busy.TryLock() {
		return nil, errors.New("two runs at once on one runner")
	}
	defer r.busy.Unlock()
	s := r.s
	s.mu.Lock()
	s.running++
	s.most = max(s.most, s.running)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.running--; s.mu.Unlock() }()
	in, _ := io.ReadAll(req.Stdin)
	var out strings.Builder
	for _, step := range strings.Split(strings.TrimSpace(string(in)), ";") {
		verb, arg, _ := strings.Cut(step, " ")
		switch verb {
		case "wait":
			select {
			case <-s.ch(arg):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case "done":
			close(s.ch(arg))
		case "fail":
			return nil, errors.New("no runtime")
		case "say":
			out.WriteString(arg + "\n")
		}
	}
	return &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: out.String()}, nil
}

// lender lends its runners, counting those out.
type lender struct {
	mu    sync.Mutex
	idle  []judge.Runner
	out   int
	freed chan struct{}
}

func (l *lender) Freed() <-chan struct{} { return l.freed }

// give adds r to the idle runners, and says so.
func (l *lender) give(r judge.Runner) {
	l.mu.Lock()
	l.idle = append(l.idle, r)
	l.mu.Unlock()
	l.freed <- struct{}{}
}

func (l *lender) Borrow(onpyrunner.RunRequest) judge.Runner {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.idle) == 0 {
		return nil
	}
	r := l.idle[len(l.idle)-1]
	l.idle, l.out = l.idle[:len(l.idle)-1], l.out+1
	return r
}

func (l *lender) Return(r judge.Runner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle, l.out = append(l.idle, r), l.out-1
}

func tests(pairs ...string) []onpyrunner.Test {
	var ts []onpyrunner.Test
	for i := 0; i < len(pairs); i += 2 {
		ts = append(ts, onpyrunner.Test{Input: pairs[i], ExpectedOutput: pairs[i+1]})
	}
	return ts
}

// judgeWith runs jg on a fresh script with extra runners to lend (none:
// no lender), and returns the result, the tests as told and the script.
func judgeWith(t *testing.T, extra int, jg onpyrunner.Judging) (*onpyrunner.Result, []string, *script, error) {
	t.Helper()
	s := &script{done: map[string]chan struct{}{}}
	var lend judge.Lender
	l := &lender{freed: make(chan struct{}, 1)}
	for range extra {
		l.idle = append(l.idle, &runner{s: s})
	}
	if extra > 0 {
		lend = l
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var told []string
	res, err := judge.Run(ctx, &runner{s: s}, lend, onpyrunner.RunRequest{}, jg, func(tr onpyrunner.TestResult) {
		told = append(told, tr.Name+" "+string(tr.Judgement))
	})
	if ctx.Err() != nil {
		t.Fatal("the tests waited for each other: they did not run at once")
	}
	if l.out != 0 {
		t.Errorf("%d lent runners not given back", l.out)
	}
	return res, told, s, err
}

func TestRunAtOnce(t *testing.T) {
	// Tests 1 and 3 each wait for the other to start: they ran at the
	// same time. Tests are told of in order all the same.
	jg := onpyrunner.Judging{Tests: tests("done 1;wait 3;say a", "a", "say b", "c", "done 3;wait 1;say c", "c", "say d", "d")}
	res, told, s, err := judgeWith(t, 2, jg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(told, ","); got != "1 accepted,2 wrong_answer,3 accepted,4 accepted" {
		t.Errorf("told %s", got)
	}
	if *res.Passed != 3 || *res.Total != 4 || res.FirstFailure != "2" || res.Stdout != "b\n" || s.most < 2 {
		t.Errorf("%+v, %d at once", res, s.most)
	}
}

func TestRunInTurnWithoutLender(t *testing.T) {
	res, told, s, err := judgeWith(t, 0, onpyrunner.Judging{Tests: tests("say a", "a", "say b", "b", "say c", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if s.most != 1 || *res.Passed != 2 || res.Stdout != "c\n" || len(told) != 3 {
		t.Errorf("%+v, %d at once, told %v", res, s.most, told)
	}
}

func TestRunStopOnFirstFailure(t *testing.T) {
	// Test 2 fails first in time, test 1 (which waits for it) first in
	// order: as one after another would, test 1 is the first failure and
	// every test after it skipped, test 2's run dropped, test 3's (which
	// waits for ever) stopped.
	jg := onpyrunner.Judging{StopOnFirstFailure: true,
		Tests: tests("wait 2;say x", "a", "say y;done 2", "b", "wait never", "c", "say d", "d")}
	res, told, _, err := judgeWith(t, 2, jg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(told, ","); got != "1 wrong_answer,2 skipped,3 skipped,4 skipped" {
		t.Errorf("told %s", got)
	}
	if *res.Passed != 0 || res.FirstFailure != "1" || res.Stdout != "x\n" {
		t.Errorf("%+v", res)
	}
}

func TestRunError(t *testing.T) {
	// A runner's error ends the job, once the runs under way have ended
	// (test 1's is stopped) and every lent runner is back.
	_, _, _, err := judgeWith(t, 2, onpyrunner.Judging{Tests: tests("wait never", "", "fail", "", "say c", "c")})
	if err == nil || !strings.Contains(err.Error(), "no runtime") {
		t.Fatalf("err %v", err)
	}
}

func TestRunBorrowsFreedRunner(t *testing.T) {
	// No runner is idle as the tests start; one freed while test 1 runs
	// (which waits for test 2) is borrowed at once, before any test ends.
	s := &script{done: map[string]chan struct{}{}}
	l := &lender{freed: make(chan struct{}, 1)}
	go func() {
		<-s.ch("1")
		l.give(&runner{s: s})
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	jg := onpyrunner.Judging{Tests: tests("done 1;wait 2;say a", "a", "done 2;say b", "b")}
	res, err := judge.Run(ctx, &runner{s: s}, l, onpyrunner.RunRequest{}, jg, nil)
	if ctx.Err() != nil {
		t.Fatal("test 2 waited for test 1 to end: the freed runner was not borrowed")
	}
	if err != nil || *res.Passed != 2 || l.out != 0 {
		t.Errorf("%+v %v, %d lent runners not given back", res, err, l.out)
	}
}
