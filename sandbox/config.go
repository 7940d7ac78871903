package sandbox

import (
	"log/slog"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// KnownRuntimes maps each runtime name to the interpreter it uses.
var KnownRuntimes = map[string]string{
	"python": "/usr/bin/python3",
	"pypy":   "/usr/bin/pypy3",
}

// Config sets up a Sandbox. Its zero value works.
type Config struct {
	// Runtimes maps runtime names to interpreter paths. Default:
	// KnownRuntimes; those not installed are left out.
	Runtimes map[string]string
	// HostPackages lets runs on the host's own interpreters see the host's
	// installed packages (dist-packages, site-packages); by default they
	// see the standard library alone.
	HostPackages bool
	// RuntimesDir holds runtimes with root filesystems of their own (built
	// by package runtimes), offered beside the host's. Default: none.
	RuntimesDir string
	// UIDBase starts the range of host uids (and gids) the sandbox uses,
	// which no one else on the host may use: UIDBase is every init's while
	// it sets a run up; each run in flight has its own from UIDBase+1 to
	// UIDBase+MaxRuns. Each sandbox process on a host locks a block of
	// 4096 uids of its own (lock files in /run/onpyrunner/uids). Default:
	// the first free block from 2000000000 on (64 blocks).
	UIDBase int
	// MaxRuns is how many runs may be in flight at once. Default 256, at
	// most 4095.
	MaxRuns int
	// CPUs is the CPU bandwidth of one run, in cores (cgroup cpu.max).
	// Default 1.
	CPUs float64
	// ScratchInodes caps the files of each scratch tmpfs. Default 8192.
	ScratchInodes int64
	// RootDir is an empty directory the runs' roots are built on, each in
	// its own mount namespace. Default /run/onpyrunner/root.
	RootDir string
	// Logger receives what the sandbox notices but cannot return.
	// Default slog.Default().
	Logger *slog.Logger
	// Cold makes lanes run every program with a fresh interpreter, never
	// in a warm slot (slower).
	Cold bool
	// WarmRuntimes is how many runtimes' warm slots a lane keeps at once:
	// a run on one more closes the slot that served least recently (the
	// default python's stays). Default 3.
	WarmRuntimes int
	// WarmIdle is how long a lane keeps a warm slot that serves no run
	// before closing it (the default python's stays). Default 10 minutes.
	WarmIdle time.Duration
}

// Spec is what to run: a RunRequest of the root package, which the
// worker hands a runner without knowing the sandbox.
type Spec = onpyrunner.RunRequest

// ErrNoRuntime is returned for a runtime that is unknown or not installed.
var ErrNoRuntime = onpyrunner.ErrNoRuntime
