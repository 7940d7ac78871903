package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/worker"
)

// fakeRunner runs a program by calling run; it counts the runners made and
// closed.
type fakeRunner struct {
	run    func(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error)
	closed *atomic.Int32
}

func (f fakeRunner) Run(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
	return f.run(ctx, req)
}

func (f fakeRunner) Close() error { f.closed.Add(1); return nil }

// pool is a worker pool on a real embedded store, with fake runners.
type pool struct {
	store  *sqlite.Store
	cancel func()        // ends the pool's context: shutdown begins
	stop   func()        // cancel, and wait for the pool to drain
	wp     *worker.Pool  // the pool under test
	made   atomic.Int32  // runners made
	closed atomic.Int32  // runners closed
	done   chan struct{} // closed when Run has returned
}

// runnerMade, when set, hears of each runner the next pool makes, as the
// n-th, before its slot may use it.
var runnerMade func(n int32)

func startPool(t *testing.T, slots int, drain time.Duration,
	run func(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error)) *pool {
	t.Helper()
	return startPoolWith(t, nil, slots, drain, run, nil)
}

// startPoolWith is startPool with the pool's store wrapped by wrap and its
// logs to logs, where they are set.
func startPoolWith(t *testing.T, wrap func(onpyrunner.Store) onpyrunner.Store, slots int, drain time.Duration,
	run func(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error), logs io.Writer) *pool {
	t.Helper()
	store, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := &pool{store: store, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	if logs == nil {
		logs = io.Discard
	}
	var ws onpyrunner.Store = store
	if wrap != nil {
		ws = wrap(store)
	}
	wp := worker.New(ws, worker.Config{Slots: slots, Drain: drain, Logger: slog.New(slog.NewTextHandler(logs, nil)), NewRunner: func() worker.Runner {
		if n := p.made.Add(1); runnerMade != nil {
			runnerMade(n)
		}
		return fakeRunner{run: run, closed: &p.closed}
	}})
	go func() { defer close(p.done); _ = wp.Run(ctx) }()
	var once sync.Once
	p.cancel = cancel
	p.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				t.Fatal("the pool did not stop")
			}
		})
	}
	t.Cleanup(func() { p.stop(); store.Close() })
	return p
}

func (p *pool) submit(t *testing.T, id, language, code string) {
	t.Helper()
	j := &onpyrunner.Job{ID: id, Language: language, Code: code, Input: "in:" + id, Limits: onpyrunner.DefaultLimits}
	if err := p.store.Submit(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

// await waits for the job's final status and returns the job.
func (p *pool) await(t *testing.T, id string) *onpyrunner.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := onpyrunner.AwaitEnd(ctx, p.store, id); err != nil {
		t.Fatalf("job %s did not end: %v", id, err)
	}
	j, err := p.store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRunsJobs: each slot has a runner of its own, which gets the job's
// request; its output reaches the live log and its result the job.
func TestRunsJobs(t *testing.T) {
	p := startPool(t, 3, time.Second, func(_ context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
		in, _ := io.ReadAll(req.Stdin)
		fmt.Fprintf(req.Stdout, "live %s", req.Code)
		return &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: fmt.Sprintf("%s %s %s %d", req.Runtime, req.Code, in, req.Limits.TimeMs)}, nil
	})
	for i := range 6 {
		p.submit(t, fmt.Sprintf("j%d", i), "python", fmt.Sprintf("code%d", i))
	}
	for i := range 6 {
		id := fmt.Sprintf("j%d", i)
		j := p.await(t, id)
		want := fmt.Sprintf("python code%d in:%s %d", i, id, onpyrunner.DefaultLimits.TimeMs)
		if j.Status != onpyrunner.Completed || j.Result == nil || j.Result.Stdout != want {
			t.Errorf("job %s: %+v, want completed with %q", id, j, want)
		}
	}
	evs, _, err := p.store.Events(context.Background(), "j0", 0)
	if err != nil {
		t.Fatal(err)
	}
	var live strings.Builder
	for _, ev := range evs {
		if ev.Type == onpyrunner.StdoutEvent {
			live.WriteString(ev.Data)
		}
	}
	if live.String() != "live code0" {
		t.Errorf("live output %q", live.String())
	}
	p.stop()
	if p.made.Load() != 3 || p.closed.Load() != 3 {
		t.Errorf("%d runners made, %d closed; want one per slot, each closed", p.made.Load(), p.closed.Load())
	}
}

// TestRunnerErrors: a runtime the runner lacks and a runner that fails end
// the job failed, with a reason for its submitter, and the slot goes on.
func TestRunnerErrors(t *testing.T) {
	p := startPool(t, 1, time.Second, func(_ context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
		switch req.Runtime {
		case "ruby":
			return nil, fmt.Errorf("sandbox: %w: %q", onpyrunner.ErrNoRuntime, req.Runtime)
		case "broken":
			return nil, errors.New("sandbox: init died while setting up")
		}
		return &onpyrunner.Result{Verdict: onpyrunner.OK}, nil
	})
	p.submit(t, "ruby", "ruby", "puts 1")
	p.submit(t, "broken", "broken", "x")
	p.submit(t, "fine", "python", "print(1)")
	for id, want := range map[string]string{"ruby": "this worker has no ruby runtime", "broken": "the sandbox could not run this job"} {
		if j := p.await(t, id); j.Status != onpyrunner.Failed || j.Error != want {
			t.Errorf("job %s: %s %q, want failed %q", id, j.Status, j.Error, want)
		}
	}
	if j := p.await(t, "fine"); j.Status != onpyrunner.Completed {
		t.Errorf("the job after the failures: %s", j.Status)
	}
}

// TestCancelRunningJob: a client's cancel ends the running program's
// context, the job stays canceled, and the worker lets go of it (a Finish,
// which ends its lease where the store has one).
func TestCancelRunningJob(t *testing.T) {
	started, returned := make(chan struct{}), make(chan error, 1)
	finished := make(chan onpyrunner.Status, 1)
	wrap := func(s onpyrunner.Store) onpyrunner.Store { return finishSpy{s, finished} }
	p := startPoolWith(t, wrap, 1, time.Second, func(ctx context.Context, _ onpyrunner.RunRequest) (*onpyrunner.Result, error) {
		close(started)
		<-ctx.Done()
		returned <- ctx.Err()
		return nil, ctx.Err()
	}, nil)
	p.submit(t, "long", "python", "while True: pass")
	<-started
	if _, err := p.store.Cancel(context.Background(), "long"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the run ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the canceled run goes on")
	}
	if j := p.await(t, "long"); j.Status != onpyrunner.Canceled {
		t.Errorf("job %s, want canceled", j.Status)
	}
	select {
	case st := <-finished:
		if st != onpyrunner.Canceled {
			t.Errorf("the worker finished the canceled job as %s", st)
		}
	case <-time.After(30 * time.Second):
		t.Error("the worker did not let go of the canceled job")
	}
}

// finishSpy tells the status of each Finish.
type finishSpy struct {
	onpyrunner.Store
	finished chan<- onpyrunner.Status
}

func (s finishSpy) Finish(ctx context.Context, j *onpyrunner.Job) error {
	err := s.Store.Finish(ctx, j)
	select {
	case s.finished <- j.Status:
	default:
	}
	return err
}

// TestDrain: at shutdown a run that ends within the drain completes; one
// that does not is stopped and handed back, queued for the next start.
func TestDrain(t *testing.T) {
	blocked := func(started chan<- struct{}, end <-chan struct{}) func(context.Context, onpyrunner.RunRequest) (*onpyrunner.Result, error) {
		return func(ctx context.Context, _ onpyrunner.RunRequest) (*onpyrunner.Result, error) {
			close(started)
			select {
			case <-end:
				return &onpyrunner.Result{Verdict: onpyrunner.OK}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	for _, c := range []struct {
		name  string
		drain time.Duration
		ends  bool // the run ends by itself once shutdown has begun
		want  onpyrunner.Status
	}{
		{"ends within the drain", time.Minute, true, onpyrunner.Completed},
		{"outlasts the drain", 100 * time.Millisecond, false, onpyrunner.Queued},
	} {
		t.Run(c.name, func(t *testing.T) {
			started, end := make(chan struct{}), make(chan struct{})
			p := startPool(t, 2, c.drain, blocked(started, end))
			p.submit(t, "job", "python", "x")
			<-started
			p.cancel()
			if c.ends {
				close(end)
			}
			p.stop()
			if j, err := p.store.Get(context.Background(), "job"); err != nil || j.Status != c.want {
				t.Errorf("the job after the drain: %+v %v, want %s", j, err, c.want)
			}
			if p.made.Load() != 2 || p.closed.Load() != 2 {
				t.Errorf("%d runners made, %d closed, want 2 and 2", p.made.Load(), p.closed.Load())
			}
		})
	}
}

// slowStore holds every append of a job's live log until released, as a
// Redis far away would.
type slowStore struct {
	onpyrunner.Store
	release <-chan struct{}
}

func (s slowStore) Append(ctx context.Context, id string, t onpyrunner.EventType, data string) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Append(ctx, id, t, data)
}

// TestSlowStoreDoesNotHoldOutput: a program's output never waits for the
// store; what the live log cannot take in time is dropped and counted,
// and the result keeps it all.
func TestSlowStoreDoesNotHoldOutput(t *testing.T) {
	release, wrote := make(chan struct{}), make(chan struct{})
	var logs testenv.SyncBuffer
	chunk := strings.Repeat("x", 64<<10)
	p := startPoolWith(t, func(s onpyrunner.Store) onpyrunner.Store { return slowStore{s, release} }, 1, time.Second,
		func(_ context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
			for range 64 { // 4 MiB, far past the live log's queue
				io.WriteString(req.Stdout, chunk)
			}
			close(wrote)
			return &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "all of it"}, nil
		}, &logs)
	p.submit(t, "loud", "python", "print('x' * 4 << 20)")
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("the program's output waits for the store")
	}
	close(release)
	if j := p.await(t, "loud"); j.Status != onpyrunner.Completed || j.Result.Stdout != "all of it" {
		t.Errorf("job %+v", j)
	}
	p.stop()
	if !strings.Contains(logs.String(), "live output lost") || !strings.Contains(logs.String(), "droppedBytes=") {
		t.Errorf("the dropped output is not counted: %q", logs.String())
	}
}

// TestTestsBorrowIdleSlots: a job's tests run on the idle slots' runners
// too (tests 1 and 2 each wait for the other to start; the second slot
// makes its runner only once test 1 runs, and it is lent as soon as it is
// idle), and a job claimed
// meanwhile gets a runner as soon as a lent one is back, while the first
// job's test 1 still runs.
func TestTestsBorrowIdleSlots(t *testing.T) {
	var mu sync.Mutex
	gates := map[string]chan struct{}{}
	gate := func(k string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if gates[k] == nil {
			gates[k] = make(chan struct{})
		}
		return gates[k]
	}
	runnerMade = func(n int32) {
		if n == 2 {
			<-gate("1")
		}
	}
	defer func() { runnerMade = nil }()
	p := startPool(t, 2, time.Second, func(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
		in, _ := io.ReadAll(req.Stdin)
		for _, step := range strings.Fields(string(in)) {
			verb, k, _ := strings.Cut(step, ":")
			switch verb {
			case "open":
				close(gate(k))
			case "wait":
				select {
				case <-gate(k):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: "ok\n"}, nil
	})
	j := &onpyrunner.Job{ID: "tests", Language: "python", Code: "x", Limits: onpyrunner.DefaultLimits,
		Options: onpyrunner.Options{Judging: onpyrunner.Judging{Tests: []onpyrunner.Test{
			{Input: "open:1 wait:2 wait:last", ExpectedOutput: "ok"},
			{Input: "open:2 wait:1 open:second", ExpectedOutput: "ok"}}}}}
	if err := p.store.Submit(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate("second"):
	case <-time.After(30 * time.Second):
		t.Fatal("the tests did not run at once")
	}
	p.submit(t, "plain", "python", "print(1)")
	if j := p.await(t, "plain"); j.Status != onpyrunner.Completed {
		t.Errorf("the job claimed meanwhile: %s", j.Status)
	}
	close(gate("last"))
	if j := p.await(t, "tests"); j.Status != onpyrunner.Completed || *j.Result.Passed != 2 {
		t.Errorf("the job of tests: %+v", j)
	}
	p.stop()
	if p.made.Load() != 2 || p.closed.Load() != 2 {
		t.Errorf("%d runners made, %d closed", p.made.Load(), p.closed.Load())
	}
}
