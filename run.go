package onpyrunner

import (
	"errors"
	"io"
	"syscall"
)

// RunRequest is one program to run: what a worker hands a runner (the
// sandbox is the real one).
type RunRequest struct {
	// Runtime is the language ("python", the default, or "pypy") or the
	// name of a runtime; Version selects among those of the language (see
	// SelectRuntime): the newest match runs it.
	Runtime, Version string
	// Code is the program's source.
	Code []byte
	// Stdin is fed to the program; nil means empty.
	Stdin io.Reader
	// Limits bound the run; zero fields take DefaultLimits.
	Limits Limits
	// Stdout and Stderr, if set, receive the program's output as it is
	// written, cut at the caps like the result's.
	Stdout, Stderr io.Writer
	// Unbuffered writes the program's output through as it is written
	// (python3 -u).
	Unbuffered bool
	// Signals, when set, carries signals for the program's processes while
	// it runs (a client's Ctrl-C).
	Signals <-chan syscall.Signal
}

// ErrNoRuntime is the error of a runner asked for a runtime it does not
// have.
var ErrNoRuntime = errors.New("runtime not installed")
