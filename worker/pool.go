package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/judge"
)

// Runner runs one program at a time for one slot of the pool (the
// sandbox's lanes are the real ones). An error means the program could not
// be run (onpyrunner.ErrNoRuntime: not in this runtime); how the program
// itself ended is the Result.
type Runner interface {
	Run(ctx context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error)
	// Close ends the runner when its slot stops.
	Close() error
}

// Observer hears of each job a slot takes and ends, for metrics.
type Observer interface {
	Started(j *onpyrunner.Job)
	Finished(j *onpyrunner.Job, run time.Duration)
}

// Config configures a Pool; its zero value works.
type Config struct {
	// Slots is the number of jobs run at once. Default: the number of CPUs.
	Slots int
	// Drain is how long running jobs may go on after shutdown begins
	// before they are killed and queued again. Default 30s.
	Drain time.Duration
	// Logger receives the pool's logs. Default slog.Default().
	Logger *slog.Logger
	// Observer, when set, hears of every job started and ended.
	Observer Observer
	// NewRunner makes the runner of one slot, as the slot starts.
	NewRunner func() Runner
	// AttachTimeout is how long an interactive job waits, once it runs,
	// for a client to attach before it ends failed. Default 30s.
	AttachTimeout time.Duration
}

// Pool is a fixed set of worker slots. Each slot makes a runner as it
// starts; the runners of slots that wait for a job are idle, and a running
// job's tests borrow them (lender) as soon as they are: a job of many
// tests on an idle worker runs on all its slots. A slot that claims a job
// while its runner is lent takes the next idle one: it waits at most for
// one test's run.
type Pool struct {
	store onpyrunner.Store
	cfg   Config
	idle  chan Runner   // the runners not in use
	freed chan struct{} // told when a runner joins idle (judge.Lender's Freed)
}

// New returns a pool that takes jobs from store and runs each with its
// slot's runner (cfg.NewRunner).
func New(store onpyrunner.Store, cfg Config) *Pool {
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AttachTimeout <= 0 {
		cfg.AttachTimeout = 30 * time.Second
	}
	return &Pool{store: store, cfg: cfg, idle: make(chan Runner, cfg.Slots), freed: make(chan struct{}, 1)}
}

// Run runs the slots until ctx ends, then drains: running jobs get
// cfg.Drain to finish before they are killed and queued again.
func (p *Pool) Run(ctx context.Context) error {
	runCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.cfg.Drain, kill) })
	defer stop()
	var wg sync.WaitGroup
	for range p.cfg.Slots {
		wg.Go(func() { p.slot(ctx, runCtx) })
	}
	wg.Wait()
	return nil
}

// slot takes jobs until ctx ends; runs end early only when runCtx does.
func (p *Pool) slot(ctx, runCtx context.Context) {
	runner := p.cfg.NewRunner()
	defer func() { runner.Close() }() // one of the pool's, once no job uses it
	for {
		p.free(runner)
		j, err := p.store.Claim(ctx)
		runner = <-p.idle
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.cfg.Logger.Error("claim a job", "err", err)
			select { // the store is unreachable: back off
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		p.runJob(runCtx, runner, j)
	}
}

// runJob runs j and stores how it ended.
func (p *Pool) runJob(runCtx context.Context, runner Runner, j *onpyrunner.Job) {
	if p.cfg.Observer != nil {
		p.cfg.Observer.Started(j)
	}
	ctx, cancel := context.WithCancelCause(runCtx)
	defer cancel(nil)
	canceled := make(chan struct{})
	go p.watch(ctx, j.ID, func() { cancel(nil) }, canceled)

	req := onpyrunner.RunRequest{
		Runtime:    j.Language,
		Version:    j.Version,
		Code:       []byte(j.Code),
		Stdin:      stdin(j.Input),
		Limits:     j.Limits,
		Unbuffered: j.Unbuffered || j.Interactive,
	}
	every := flushEvery
	if j.Interactive {
		c, ok := p.store.(onpyrunner.Console)
		if !ok {
			j.Status, j.Error = onpyrunner.Failed, "this server's store cannot carry an interactive job's input"
			p.finish(ctx, j, 0)
			return
		}
		con := follow(ctx, c, j, p.cfg.AttachTimeout, cancel)
		defer con.stop()
		req.Stdin, req.Signals, every = con.stdin, con.signals, 0
	}
	out := newLive(p.store, j.ID, every)
	t0 := time.Now()
	var res *onpyrunner.Result
	var err error
	if len(j.Tests) > 0 { // live: each test's end, its output in it
		res, err = judge.Run(ctx, runner, lender{p}, req, j.Judging, func(tr onpyrunner.TestResult) { p.tested(j.ID, tr) })
	} else {
		req.Stdout, req.Stderr = out.stream(onpyrunner.StdoutEvent), out.stream(onpyrunner.StderrEvent)
		res, err = runner.Run(ctx, req)
	}
	if dropped, failed := out.close(); dropped > 0 || failed > 0 {
		// The result keeps all the output; only the live log lacks some.
		p.cfg.Logger.Warn("live output lost", "job", j.ID, "droppedBytes", dropped, "failedAppends", failed)
	}
	took := time.Since(t0)
	unattached := errors.Is(context.Cause(ctx), errUnattached)
	cancel(nil)

	fctx, fcancel := context.WithTimeout(context.WithoutCancel(runCtx), 30*time.Second)
	defer fcancel()
	select {
	case <-canceled:
		// The store has it canceled already: let go of it (its lease and
		// queue entry, where the store has them), with what the run
		// wrote until then.
		j.Status, j.Result = onpyrunner.Canceled, res
		if err := p.store.Finish(fctx, j); err != nil {
			p.cfg.Logger.Error("let go of a canceled job", "job", j.ID, "err", err)
		}
		return
	default:
	}
	switch {
	case runCtx.Err() != nil:
		j.Status = onpyrunner.Queued // drained: the next start runs it
	case unattached:
		j.Status, j.Error = onpyrunner.Failed, fmt.Sprintf("no client attached to this interactive job within %v of its start", p.cfg.AttachTimeout)
	case errors.Is(err, onpyrunner.ErrNoRuntime):
		j.Status, j.Error = onpyrunner.Failed, "this worker has no "+j.Language+" runtime"
	case err != nil:
		p.cfg.Logger.Error("run a job", "job", j.ID, "err", err)
		j.Status, j.Error = onpyrunner.Failed, "the sandbox could not run this job"
	default:
		j.Status, j.Result = onpyrunner.Completed, res
	}
	p.finish(fctx, j, took)
}

// finish stores how j ended.
func (p *Pool) finish(ctx context.Context, j *onpyrunner.Job, took time.Duration) {
	if err := p.store.Finish(ctx, j); err != nil {
		p.cfg.Logger.Error("store a job's end", "job", j.ID, "err", err)
		return
	}
	if p.cfg.Observer != nil && j.Status.Final() {
		p.cfg.Observer.Finished(j, took)
	}
	if r := j.Result; r != nil {
		p.cfg.Logger.Info("job", "id", j.ID, "runtime", j.Language, "status", j.Status, "verdict", r.Verdict,
			"cpuMs", r.TimeMs, "wallMs", r.WallTimeMs)
	} else {
		p.cfg.Logger.Info("job", "id", j.ID, "runtime", j.Language, "status", j.Status, "error", j.Error)
	}
}

// tested puts a test's end into the job's live log.
func (p *Pool) tested(id string, tr onpyrunner.TestResult) {
	b, err := json.Marshal(tr)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.store.Append(ctx, id, onpyrunner.TestEvent, string(b)); err != nil {
		p.cfg.Logger.Warn("live test result lost", "job", id, "err", err)
	}
}

// watch follows a running job's log and kills its run when a client
// cancels it (a final status that this slot did not write).
func (p *Pool) watch(ctx context.Context, id string, kill func(), canceled chan<- struct{}) {
	st, err := onpyrunner.AwaitEnd(ctx, p.store, id)
	switch {
	case err != nil && ctx.Err() == nil:
		p.cfg.Logger.Warn("follow a job's log", "job", id, "err", err)
	case st == onpyrunner.Canceled:
		close(canceled)
		kill()
	}
}

// stdin is a job's input for the sandbox: nil when there is none.
func stdin(input string) io.Reader {
	if input == "" {
		return nil
	}
	return strings.NewReader(input)
}

// readier is what a Runner may tell: whether a run of req would start at
// once, its runtime warm (sandbox.Lane tells). One that cannot tell counts
// as ready.
type readier interface {
	Ready(req onpyrunner.RunRequest) bool
}

// lender lends a running job's tests the pool's idle runners (judge.Lender).
type lender struct{ p *Pool }

// Borrow takes an idle runner that would start req at once; nil when
// there is none. (One whose lane would start the runtime first is left
// alone: a zygote's start costs as much as dozens of runs, and may stop
// another runtime's.)
func (l lender) Borrow(req onpyrunner.RunRequest) judge.Runner {
	var unready []Runner
	defer func() {
		for _, r := range unready {
			l.p.idle <- r
		}
	}()
	for range cap(l.p.idle) {
		select {
		case r := <-l.p.idle:
			if rd, ok := r.(readier); !ok || rd.Ready(req) {
				return r
			}
			unready = append(unready, r)
		default:
			return nil
		}
	}
	return nil
}

// Return gives back a runner that Borrow lent.
func (l lender) Return(r judge.Runner) { l.p.free(r.(Runner)) }

// Freed is told when a runner joins the idle ones (one of the jobs whose
// tests wait for a runner hears it).
func (l lender) Freed() <-chan struct{} { return l.p.freed }

// free makes r idle, and says so to a job whose tests wait for a runner.
// (Borrow puts back the runners it would not lend without a word: their
// lanes stay unready, and a word would have the test try them again at
// once.)
func (p *Pool) free(r Runner) {
	p.idle <- r
	select {
	case p.freed <- struct{}{}:
	default:
	}
}
