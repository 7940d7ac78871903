package backendtest

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// Config shapes the store that a test asks for.
type Config struct {
	// QueueCap is the most jobs queued at once; 0 means the store's default.
	QueueCap int
}

// wait bounds every call of the suite that may block: a store that should
// answer at once but blocks fails its test after this long.
const wait = 5 * time.Second

// prompt is how soon a blocked Claim or Events must return once what it
// waits for has happened.
const prompt = time.Second

type test struct {
	name string
	cfg  Config
	fn   func(t *testing.T, s onpyrunner.Store)
}

// Run runs the suite against the stores that open returns: a fresh, empty
// store for each subtest, made with cfg. Run closes each store when its
// subtest ends; open may also register its own cleanup.
func Run(t *testing.T, open func(t *testing.T, cfg Config) onpyrunner.Store) {
	tests := []test{
		{"SubmitGet", Config{}, testSubmitGet},
		{"GetUnknown", Config{}, testGetUnknown},
		{"ClaimFIFO", Config{}, testClaimFIFO},
		{"ClaimWaitsForSubmit", Config{}, testClaimWaits},
		{"ClaimContextEnds", Config{}, testClaimContext},
		{"ClaimConcurrent", Config{QueueCap: 1000}, testClaimConcurrent},
		{"FinishCompleted", Config{}, testFinishCompleted},
		{"FinishFailed", Config{}, testFinishFailed},
		{"FinishHandBack", Config{}, testFinishHandBack},
		{"CancelQueued", Config{}, testCancelQueued},
		{"CancelRunning", Config{}, testCancelRunning},
		{"CancelFinished", Config{}, testCancelFinished},
		{"CancelUnknown", Config{}, testCancelUnknown},
		{"QueueCap", Config{QueueCap: 3}, testQueueCap},
		{"Stats", Config{}, testStats},
		{"EndedCounts", Config{}, testEndedCounts},
	}
	tests = append(tests, eventTests...)
	tests = append(tests, consoleTests...)
	tests = append(tests, outboxTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, tc.cfg)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// bounded is t's context, ended after d.
func bounded(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newJob returns a job to submit, with a fresh id.
func newJob() *onpyrunner.Job {
	return &onpyrunner.Job{
		ID:       "bt-" + rand.Text(),
		Language: "python",
		Limits:   onpyrunner.Limits{TimeMs: 1000},
		Code:     "print(input())",
		Input:    "hello\n",
	}
}

func submit(t testing.TB, s onpyrunner.Store, j *onpyrunner.Job) *onpyrunner.Job {
	t.Helper()
	if err := s.Submit(bounded(t, wait), j); err != nil {
		t.Fatalf("Submit %s: %v", j.ID, err)
	}
	return j
}

func get(t testing.TB, s onpyrunner.Store, id string) *onpyrunner.Job {
	t.Helper()
	j, err := s.Get(bounded(t, wait), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return j
}

func claim(t testing.TB, s onpyrunner.Store) *onpyrunner.Job {
	t.Helper()
	j, err := s.Claim(bounded(t, wait))
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return j
}

// claimAs claims a job and checks that it is want's.
func claimAs(t testing.TB, s onpyrunner.Store, want *onpyrunner.Job) *onpyrunner.Job {
	t.Helper()
	j := claim(t, s)
	if j.ID != want.ID {
		t.Fatalf("Claim gave job %s, want %s", j.ID, want.ID)
	}
	return j
}

// claimNone checks that Claim finds nothing to claim for a while.
func claimNone(t testing.TB, s onpyrunner.Store) {
	t.Helper()
	j, err := s.Claim(bounded(t, 200*time.Millisecond))
	if err == nil {
		t.Fatalf("Claim gave job %s (status %s), want none", j.ID, j.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim on an empty queue: %v, want context.DeadlineExceeded", err)
	}
}

func finish(t testing.TB, s onpyrunner.Store, j *onpyrunner.Job) {
	t.Helper()
	if err := s.Finish(bounded(t, wait), j); err != nil {
		t.Fatalf("Finish %s as %s: %v", j.ID, j.Status, err)
	}
}

func cancel(t testing.TB, s onpyrunner.Store, id string) *onpyrunner.Job {
	t.Helper()
	j, err := s.Cancel(bounded(t, wait), id)
	if err != nil {
		t.Fatalf("Cancel %s: %v", id, err)
	}
	return j
}

func wantCode(t testing.TB, err error, code onpyrunner.Code) {
	t.Helper()
	var e *onpyrunner.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want an *onpyrunner.Error with code %s", err, code)
	}
}

func wantStatus(t testing.TB, j *onpyrunner.Job, want onpyrunner.Status) {
	t.Helper()
	if j.Status != want {
		t.Fatalf("job %s: status %s, want %s", j.ID, j.Status, want)
	}
}

func wantStats(t testing.TB, s onpyrunner.Store, queued, running int) {
	t.Helper()
	st, err := s.Stats(bounded(t, wait))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Queued != queued || st.Running != running {
		t.Fatalf("Stats = %+v, want %d queued, %d running", st, queued, running)
	}
}

func testSubmitGet(t *testing.T, s onpyrunner.Store) {
	j := newJob()
	j.Language = "pypy"
	j.Limits = onpyrunner.Limits{TimeMs: 1500, WallTimeMs: 4000, MemoryMB: 96, OutputKB: 32,
		StderrKB: 8, Processes: 16, FileSizeKB: 1024, OpenFiles: 64}
	j.Code = "# ünïcödé ✓ 🐍\nprint('x\\0y')\x00 # a NUL byte\n"
	j.Input = "héllo\x00wörld\n日本語 🙂\r\n\x00"
	want := *j
	before := time.Now()
	submit(t, s, j)
	after := time.Now()
	// The API answers 202 with the job that Submit filled in.
	wantStatus(t, j, onpyrunner.Queued)
	if j.CreatedAt.IsZero() {
		t.Errorf("Submit left CreatedAt zero")
	}

	got := get(t, s, j.ID)
	wantStatus(t, got, onpyrunner.Queued)
	if got.ID != want.ID || got.Language != want.Language || got.Limits != want.Limits {
		t.Errorf("Get = id %q language %q limits %+v, want %q %q %+v",
			got.ID, got.Language, got.Limits, want.ID, want.Language, want.Limits)
	}
	if got.Code != want.Code {
		t.Errorf("Get: code %q, want %q", got.Code, want.Code)
	}
	if got.Input != want.Input {
		t.Errorf("Get: input %q, want %q", got.Input, want.Input)
	}
	if got.CreatedAt.Before(before.Add(-time.Millisecond)) || got.CreatedAt.After(after) {
		t.Errorf("Get: createdAt %v, want between %v and %v", got.CreatedAt, before, after)
	}
	if d := got.CreatedAt.Sub(j.CreatedAt).Abs(); d > time.Millisecond {
		t.Errorf("Get: createdAt %v, but Submit said %v", got.CreatedAt, j.CreatedAt)
	}
	if got.StartedAt != nil || got.FinishedAt != nil || got.Result != nil || got.Error != "" || got.Attempts != 0 {
		t.Errorf("Get: a queued job with startedAt %v finishedAt %v result %+v error %q attempts %d",
			got.StartedAt, got.FinishedAt, got.Result, got.Error, got.Attempts)
	}
}

func testGetUnknown(t *testing.T, s onpyrunner.Store) {
	_, err := s.Get(bounded(t, wait), "no-such-job")
	wantCode(t, err, onpyrunner.CodeNotFound)
}
