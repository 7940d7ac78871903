package onpyrunner

import (
	"context"
	"syscall"
	"time"
)

// The kinds of event in an interactive job's input log: what its attached
// client sends the program, in order.
const (
	// StdinEvent carries bytes for the program's stdin in Data.
	StdinEvent EventType = "stdin"
	// EOFEvent closes the program's stdin.
	EOFEvent EventType = "eof"
	// SignalEvent carries the name of a signal for the program ("SIGINT").
	SignalEvent EventType = "signal"
	// AttachEvent says that a client attached to write; a run that hears
	// of none within its attach timeout ends.
	AttachEvent EventType = "attach"
)

// Console carries the input of interactive jobs from the API process a
// client attached to, to the worker that runs the job, wherever each runs.
// Both stores implement it.
type Console interface {
	// SendInput appends an event to job id's input log. It fails with
	// CodeNotFound when the job has no open input log (it is not
	// interactive, or it has ended), and with CodeTooLarge when the data
	// of the log's stdin events would pass maxStdin bytes.
	SendInput(ctx context.Context, id string, t EventType, data string, maxStdin int64) error
	// Input returns the events of job id's input log after seq `after`,
	// waiting until there is one; done is true once the log has ended.
	Input(ctx context.Context, id string, after int) (evs []Event, done bool, err error)
	// HoldWriter makes token the job's one writer for ttl, or renews its
	// hold; it returns false while another token holds the job.
	HoldWriter(ctx context.Context, id, token string, ttl time.Duration) (bool, error)
	// ReleaseWriter ends token's hold on the job, if it has one.
	ReleaseWriter(ctx context.Context, id, token string) error
}

// Signals are the signals a client may send an interactive run, by name.
var Signals = map[string]syscall.Signal{
	"SIGINT":  syscall.SIGINT,
	"SIGTERM": syscall.SIGTERM,
	"SIGHUP":  syscall.SIGHUP,
	"SIGQUIT": syscall.SIGQUIT,
	"SIGKILL": syscall.SIGKILL,
	"SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2,
}

// Batches keeps which jobs were submitted together (POST /api/batches).
// Both stores implement it; a batch goes when its jobs do (the store's
// retention).
type Batches interface {
	// SaveBatch records batch id as the jobs ids, in order.
	SaveBatch(ctx context.Context, id string, jobs []string) error
	// Batch returns batch id's jobs, or CodeNotFound.
	Batch(ctx context.Context, id string) ([]string, error)
}
