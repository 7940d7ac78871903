//go:build linux

package sandbox

import (
	"context"

	"github.com/onpyrunner/onpyrunner"
)

// Lane runs one program at a time for one worker: in a warm slot of its
// own when the runtime has one and the sandbox is not Config.Cold (made
// at once, replaced if it dies), else with a fresh interpreter.
type Lane struct {
	s     *Sandbox
	slots map[string]*Slot
}

// NewLane returns a lane with its warm slots started (one that fails to
// start is logged and started again at its first run); Close it when done.
func (s *Sandbox) NewLane() *Lane {
	l := &Lane{s: s, slots: map[string]*Slot{}}
	if err := l.warm(); err != nil {
		s.cfg.Logger.Error("sandbox: start a warm slot", "err", err)
	}
	return l
}

// Run runs spec as Sandbox.Run does. Not safe for concurrent use.
func (l *Lane) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	rt, err := l.s.runtime(spec)
	if err != nil {
		return nil, err
	}
	if !rt.warm() || l.s.cfg.Cold {
		return l.s.runOn(ctx, rt, spec)
	}
	sl, err := l.slot(rt)
	if err != nil { // a zygote that does not start: the job runs all the same
		l.s.cfg.Logger.Error("sandbox: start a warm slot; running cold", "runtime", rt.Name, "err", err)
		return l.s.runOn(ctx, rt, spec)
	}
	return sl.Run(ctx, spec)
}

// warm starts the lane's slot for the default python now rather than at
// its first run; the other runtimes' slots start at their first run.
func (l *Lane) warm() error {
	if l.s.cfg.Cold {
		return nil
	}
	rt, err := l.s.runtime(Spec{})
	if err != nil || !rt.warm() {
		return nil
	}
	_, err = l.slot(rt)
	return err
}

func (l *Lane) slot(rt *Runtime) (*Slot, error) {
	if sl := l.slots[rt.Name]; sl != nil {
		return sl, nil
	}
	sl, err := l.s.slotFor(rt, false)
	if err != nil {
		return nil, err
	}
	l.slots[rt.Name] = sl
	return sl, nil
}

// Close stops the lane's slots.
func (l *Lane) Close() error {
	for _, sl := range l.slots {
		sl.Close()
	}
	return nil
}
