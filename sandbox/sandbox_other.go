//go:build !linux

package sandbox

import (
	"context"
	"errors"

	"github.com/onpyrunner/onpyrunner"
)

// errLinuxOnly is every answer of the sandbox where it cannot run: it is
// made of Linux's namespaces, cgroups, seccomp and Landlock. The rest of
// the service builds everywhere, for work on the API, the stores and the
// page.
var errLinuxOnly = errors.New("sandbox: runs need Linux")

// Sandbox stands for the Linux sandbox elsewhere: New fails.
type Sandbox struct{}

// New says that runs need Linux.
func New(Config) (*Sandbox, error) { return nil, errLinuxOnly }

// Run fails: runs need Linux.
func (*Sandbox) Run(context.Context, Spec) (*onpyrunner.Result, error) { return nil, errLinuxOnly }

// Languages is empty: no runtime runs here.
func (*Sandbox) Languages() []onpyrunner.Runtime { return nil }

// NewLane returns a lane that cannot run.
func (*Sandbox) NewLane() *Lane { return &Lane{} }

// Close does nothing.
func (*Sandbox) Close() error { return nil }

// CgroupVersion is 0: no cgroups here.
func (*Sandbox) CgroupVersion() int { return 0 }

// Landlock is false: no Landlock here.
func (*Sandbox) Landlock() bool { return false }

// Lane stands for the Linux sandbox's lane elsewhere.
type Lane struct{}

// Run fails: runs need Linux.
func (*Lane) Run(context.Context, Spec) (*onpyrunner.Result, error) { return nil, errLinuxOnly }

// Close does nothing.
func (*Lane) Close() error { return nil }
