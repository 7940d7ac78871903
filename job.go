package onpyrunner

import (
	"context"
	"time"
)

// Status is where a job is in its life: queued, then running, then one of
// the final statuses.
type Status string

// The job statuses (docs/contracts.md).
const (
	// Queued means the job waits for a worker slot.
	Queued Status = "queued"
	// Running means a worker runs it now.
	Running Status = "running"
	// Completed means the program ran; its Result's verdict says how it went.
	Completed Status = "completed"
	// Failed means the system could not run it; the job's Error says why.
	Failed Status = "failed"
	// Canceled means a client canceled it before it ended.
	Canceled Status = "canceled"
)

// Final reports whether s is an end of a job's life.
func (s Status) Final() bool { return s == Completed || s == Failed || s == Canceled }

// Job is one program submitted to the service, with its state and result.
// Its JSON is the job object of the HTTP API.
type Job struct {
	ID       string `json:"jobId"`
	Status   Status `json:"status"`
	Language string `json:"language"`
	// Version is the full Python version of the runtime it runs on, which
	// its version selector chose at submission ("" for a job stored before
	// versions were).
	Version    string     `json:"version,omitempty"`
	Limits     Limits     `json:"limits"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Result is set when the job completed.
	Result *Result `json:"result,omitempty"`
	// Error says why a failed job failed, in words for its submitter.
	Error string `json:"error,omitempty"`
	// Webhook says how the delivery of its end to its CallbackURL stands
	// (GET /api/jobs/{id} only; never in a delivery's own body).
	Webhook *DeliveryState `json:"webhook,omitempty"`

	// Code and Input are the program and its stdin. The API shows them only
	// when asked (a share link reopens them).
	Code  string `json:"code,omitempty"`
	Input string `json:"input,omitempty"`
	// Options are what the job asks of its run beyond code, input and
	// limits.
	Options
	// Attempts counts the times a worker took the job.
	Attempts int `json:"-"`
}

// Options are what a job asks of its run beyond its code, input and
// limits; the stores keep them as one JSON value.
type Options struct {
	// Mode says how the program talks to its client.
	Mode
	// Judging holds the job's tests, if it has any.
	Judging
	// CallbackURL, when set, is where the job's final state is POSTed
	// when it ends (a webhook: package webhook, Outbox).
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// Public is j as the API shows it: without its code, input and tests
// unless source is set.
func (j *Job) Public(source bool) *Job {
	c := *j
	if !source {
		c.Code, c.Input, c.Tests = "", "", nil
	}
	return &c
}

// Mode is how a job's program talks to its client; the zero value is a
// batch run (stdin given whole, output block-buffered as python3 writes to
// a pipe). Stores keep it with the job.
type Mode struct {
	// Interactive keeps the program's stdin open for a client attached to
	// the job (Console); it implies Unbuffered.
	Interactive bool `json:"interactive,omitempty"`
	// Unbuffered writes the program's output through as it is written, as
	// python3 -u does.
	Unbuffered bool `json:"unbuffered,omitempty"`
}

// EventType names what an Event carries.
type EventType string

// The kinds of event in a job's live log.
const (
	// StatusEvent carries a new status in Data.
	StatusEvent EventType = "status"
	// StdoutEvent and StderrEvent carry output as the program writes it.
	StdoutEvent EventType = "stdout"
	StderrEvent EventType = "stderr"
)

// Event is one entry of a job's live log: a status change or a piece of
// output. Seq numbers a job's events from 1 in the order they happened.
type Event struct {
	Seq  int       `json:"seq"`
	Type EventType `json:"type"`
	Data string    `json:"data"`
}

// Stats is a snapshot of the queue.
type Stats struct {
	Queued  int `json:"queued"`
	Running int `json:"running"`
	// Ended counts the jobs that have ended since the store was made, by
	// how: the store counts each job once, where it ends, whichever
	// process ends it (a worker's finish, a cancel, a job failed after its
	// deaths).
	Ended map[Ending]int64 `json:"-"`
	// StoredBytes is what the store holds now: the bytes of the jobs'
	// code, input, results and logs, as the store counts them (its pages
	// in use, Redis's used memory).
	StoredBytes int64 `json:"-"`
}

// Ending is how a job ended: its final status and, for a completed job,
// its verdict.
type Ending struct {
	Status  Status
	Verdict Verdict
}

// Store is the queue and the job store that the API and the workers share:
// the embedded SQLite store on one machine, Redis across many. Every method
// is safe for concurrent use. Errors meant for the client are *Error.
type Store interface {
	// Submit saves j, which has its ID, language, limits, code and input,
	// as queued and puts it at the back of the queue. It fails with
	// CodeQueueFull when the queue is at its cap.
	Submit(ctx context.Context, j *Job) error
	// Get returns the job with its code and input, or CodeNotFound.
	Get(ctx context.Context, id string) (*Job, error)
	// Claim waits until a job is queued, marks it running for this worker
	// and returns it. It returns ctx's error when ctx ends first.
	Claim(ctx context.Context) (*Job, error)
	// Finish records the end of a claimed job: j.Status is Completed (with
	// j.Result), Failed (with j.Error), Queued (handed back, to run again)
	// or Canceled (the worker saw it canceled and lets go of it). A job
	// canceled meanwhile stays canceled; either way the worker's hold on
	// the job (its lease) ends.
	Finish(ctx context.Context, j *Job) error
	// Cancel ends a queued or running job as canceled and returns it; a job
	// that has already ended is returned as it is.
	Cancel(ctx context.Context, id string) (*Job, error)
	// Append adds a piece of output to a running job's live log.
	Append(ctx context.Context, id string, t EventType, data string) error
	// Events returns the events of a job's live log after seq `after`,
	// waiting until there is one. done is true when the log has ended (the
	// job reached a final status) and no events remain after those returned;
	// a job whose live log is gone (it ended a while ago) gives done and no
	// events, and its result holds its output.
	Events(ctx context.Context, id string, after int) (evs []Event, done bool, err error)
	// Stats counts queued and running jobs.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store.
	Close() error
}

// AwaitEnd follows a job's live log until its final status and returns it;
// it returns "" when the log ends without one (a log that is gone: the
// job's record says how it ended), and ctx's error when ctx ends first.
func AwaitEnd(ctx context.Context, s Store, id string) (Status, error) {
	after := 0
	for {
		evs, done, err := s.Events(ctx, id, after)
		if err != nil {
			return "", err
		}
		for _, ev := range evs {
			after = ev.Seq
			if st := Status(ev.Data); ev.Type == StatusEvent && st.Final() {
				return st, nil
			}
		}
		if done {
			return "", nil
		}
	}
}
