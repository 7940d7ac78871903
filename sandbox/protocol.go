//go:build linux

package sandbox

import "syscall"

// initArg0 is the argv[0] under which this binary, re-executed inside the
// new namespaces, becomes the sandbox's init instead of its usual self.
const initArg0 = "onpyrunner-sandbox-init"

// File descriptors the init receives besides stdin, stdout and stderr.
const (
	fdConfig = 3 // reads initConfig (JSON) until EOF
	fdStatus = 4 // writes initMsg lines
	fdCgroup = 5 // first of the cgroup files, see initConfig
)

// programUID is the program's uid inside its user namespace; the host sees
// the run's own uid.
const programUID = 1000

// initConfig is everything the init needs to build the run's root, drop its
// privileges and start the program: the steps of the policy (policy.go)
// that the supervisor built for it, and what they refer to.
type initConfig struct {
	UID     int      `json:"uid"`
	RootDir string   `json:"rootDir"` // empty host directory to build the root on
	View    view     `json:"view"`
	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	Code    []byte   `json:"code"`
	Proc    []step   `json:"proc"`    // mount the root's /proc
	Scratch []step   `json:"scratch"` // mount the root's scratch space
	// Confine joins the program's cgroup and confines the init, which
	// then starts the program: its limits, its privileges, Landlock and
	// the seccomp filter last.
	Confine   []step               `json:"confine"`
	Rlimits   []rlimit             `json:"rlimits"` // the values of Confine's limits
	Landlock  *llRules             `json:"landlock"`
	Filter    []syscall.SockFilter `json:"filter"`
	Pids      int64                `json:"pids"`
	ProgProcs int                  `json:"progProcs"` // count of prog cgroup.procs fds from fdCgroup on
	InitProcs int                  `json:"initProcs"` // count of init cgroup.procs fds after those
	// ZygoteFD, when set, makes the init a warm slot's: it starts Argv as
	// the slot's zygote, keeping its privileges, with this descriptor as
	// the zygote's fd 3, and lives as long as the zygote.
	ZygoteFD int `json:"zygoteFD,omitempty"`
	// Pid1 is the tiny pid 1 program for the slot's runs (pid1_amd64.go),
	// where the architecture has one.
	Pid1 []byte `json:"pid1,omitempty"`
}

// pidsMaxFD is the descriptor of the program's pids.max, after the procs files.
func (c *initConfig) pidsMaxFD() int { return fdCgroup + c.ProgProcs + c.InitProcs }

type rlimit struct {
	Resource int    `json:"resource"`
	Value    uint64 `json:"value"`
}

// initMsg is one line the init reports on fdStatus.
type initMsg struct {
	// Started: the program is running (its wall clock starts now).
	Started bool `json:"started,omitempty"`
	// Exited: the program's main process ended with WaitStatus Status;
	// MaxRSS is the peak resident set size, in KiB, of that process and of
	// the children it waited for (its rusage's ru_maxrss).
	Exited bool  `json:"exited,omitempty"`
	Status int   `json:"status,omitempty"`
	MaxRSS int64 `json:"maxrss,omitempty"`
	// Error: the sandbox could not be set up.
	Error string `json:"error,omitempty"`
	// Listener: the message carries the run's seccomp listener (see
	// serveSockets), which the supervisor keeps.
	Listener bool `json:"listener,omitempty"`
}

// The run's paths inside its root.
const (
	workDir  = "/work"
	mainFile = "main.py"
)
