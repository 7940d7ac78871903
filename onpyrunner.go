// Package onpyrunner is the shared vocabulary of OnPyRunner, an online Python
// runner: the limits a run is held to, the result it produces and the
// verdicts that describe how it went. It uses the standard library only.
package onpyrunner

import (
	"fmt"
	"time"
)

// Verdict says how a completed run went. It is a value, not an error: a
// user's infinite loop is TimeLimit; only a failure of our own machinery is
// an error.
type Verdict string

// The verdicts (docs/contracts.md).
const (
	// OK means the program exited with status 0.
	OK Verdict = "ok"
	// RuntimeError means a non-zero exit, or death by a signal that the
	// sandbox did not send to enforce a limit.
	RuntimeError Verdict = "runtime_error"
	// TimeLimit means the CPU time of all the run's processes reached the limit.
	TimeLimit Verdict = "time_limit"
	// WallTimeLimit means the wall clock reached the limit.
	WallTimeLimit Verdict = "wall_time_limit"
	// MemoryLimit means the run's memory reached the limit (kernel accounting).
	MemoryLimit Verdict = "memory_limit"
	// OutputLimit means stdout or stderr passed its cap.
	OutputLimit Verdict = "output_limit"
)

// Limits bounds one run. A zero field means "use the default"; the comment
// of each field gives that default (see DefaultLimits).
type Limits struct {
	// TimeMs is the CPU time of all processes of the run, in ms. Default 2000.
	TimeMs int64 `json:"timeMs,omitempty"`
	// WallTimeMs is the wall-clock time of the run, in ms. Default 5000.
	WallTimeMs int64 `json:"wallTimeMs,omitempty"`
	// MemoryMB is the run's peak resident memory, as Result.MemoryKB
	// counts it, in MiB. Default 128.
	MemoryMB int64 `json:"memoryMB,omitempty"`
	// OutputKB caps stdout, in KiB. Default 64.
	OutputKB int64 `json:"outputKB,omitempty"`
	// StderrKB caps stderr, in KiB. Default: OutputKB.
	StderrKB int64 `json:"stderrKB,omitempty"`
	// Processes caps the processes and threads alive at once. Default 32.
	Processes int64 `json:"processes,omitempty"`
	// FileSizeKB caps the size of any file the program writes, in KiB. Default 16384.
	FileSizeKB int64 `json:"fileSizeKB,omitempty"`
	// OpenFiles caps the open file descriptors of each process. Default 256.
	OpenFiles int64 `json:"openFiles,omitempty"`
}

// DefaultLimits are the limits of a run that asks for none: sensible for an
// online interpreter.
var DefaultLimits = Limits{
	TimeMs:     2000,
	WallTimeMs: 5000,
	MemoryMB:   128,
	OutputKB:   64,
	StderrKB:   64,
	Processes:  32,
	FileSizeKB: 16 << 10,
	OpenFiles:  256,
}

// WithDefaults returns l with every zero field taken from DefaultLimits
// (StderrKB from OutputKB when only that was given).
func (l Limits) WithDefaults() Limits {
	if l.StderrKB == 0 && l.OutputKB != 0 {
		l.StderrKB = l.OutputKB
	}
	return l.Or(DefaultLimits)
}

// Validate says what is wrong with l, naming the field as the API does
// (limits.memoryMB): no field may be negative (zero means the default),
// and openFiles, where given, must leave a program room for its standard
// streams and libraries (8).
func (l Limits) Validate() error {
	for _, f := range l.fields() {
		if *f.v < 0 {
			return fmt.Errorf("limits.%s: must not be negative, got %d", f.name, *f.v)
		}
	}
	if l.OpenFiles > 0 && l.OpenFiles < 8 {
		return fmt.Errorf("limits.openFiles: must be at least 8, got %d", l.OpenFiles)
	}
	return nil
}

// limitField is one field of a Limits, by its JSON name.
type limitField struct {
	name string
	v    *int64
}

// fields are l's fields, in the order of the struct.
func (l *Limits) fields() []limitField {
	return []limitField{{"timeMs", &l.TimeMs}, {"wallTimeMs", &l.WallTimeMs}, {"memoryMB", &l.MemoryMB},
		{"outputKB", &l.OutputKB}, {"stderrKB", &l.StderrKB}, {"processes", &l.Processes},
		{"fileSizeKB", &l.FileSizeKB}, {"openFiles", &l.OpenFiles}}
}

// Or returns l with each zero field taken from d.
func (l Limits) Or(d Limits) Limits {
	fs, ds := l.fields(), d.fields()
	for i, f := range fs {
		if *f.v == 0 {
			*f.v = *ds[i].v
		}
	}
	return l
}

// CPUTime is TimeMs as a duration.
func (l Limits) CPUTime() time.Duration { return time.Duration(l.TimeMs) * time.Millisecond }

// WallTime is WallTimeMs as a duration.
func (l Limits) WallTime() time.Duration { return time.Duration(l.WallTimeMs) * time.Millisecond }

// Result is what a completed run produced. Its JSON is the "result" object of
// the HTTP API.
type Result struct {
	Verdict  Verdict `json:"verdict"`
	ExitCode int     `json:"exitCode"`
	// Signal names the signal that killed the program ("SIGSEGV"), or is empty.
	Signal string `json:"signal"`
	// Stdout and Stderr are the program's output, cut at the caps. JSON turns
	// bytes that are not UTF-8 into U+FFFD and keeps NUL bytes as \u0000.
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdoutTruncated"`
	StderrTruncated bool   `json:"stderrTruncated"`
	// TimeMs is the CPU time of every process of the run.
	TimeMs int64 `json:"timeMs"`
	// WallTimeMs is the wall-clock time from the program's start to its end.
	WallTimeMs int64 `json:"wallTimeMs"`
	// MemoryKB is the run's peak resident memory as if it had run alone,
	// interpreter included, in KiB (docs/contracts.md, "Memory"): the
	// larger of its process's peak RSS and its cgroup's peak charge, each
	// corrected by an empty program's run, so that warm and cold runs
	// report the same; never above the limit.
	MemoryKB int64 `json:"memoryKB"`

	// Passed and Total count a job's tests (judge mode; absent without
	// tests), Tests says how each went, and FirstFailure names the first
	// that did not pass. Then the verdict, exit code and output above are
	// the first failing test's (else the last test's), the time and memory
	// the largest of any test.
	Passed       *int         `json:"passed,omitempty"`
	Total        *int         `json:"total,omitempty"`
	Tests        []TestResult `json:"tests,omitempty"`
	FirstFailure string       `json:"firstFailure,omitempty"`
}
