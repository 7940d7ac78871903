package sandbox

import (
	"context"
	"errors"

	"github.com/onpyrunner/onpyrunner"
)

// Lane runs one program at a time for one worker: in a warm slot of its
// own when the runtime has one (made at its first run, replaced if it
// dies), else with a fresh interpreter.
type Lane struct {
	s     *Sandbox
	slots map[string]*Slot
}

// NewLane returns a lane; Close it when done.
func (s *Sandbox) NewLane() *Lane { return &Lane{s: s, slots: map[string]*Slot{}} }

// Run runs spec as Sandbox.Run does. Not safe for concurrent use.
func (l *Lane) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	name := spec.Runtime
	if name == "" {
		name = "python"
	}
	if _, ok := l.s.runtimes[name]; !ok || !WarmRuntimes[name] {
		return l.s.Run(ctx, spec)
	}
	sl, err := l.slot(name)
	if err != nil {
		return nil, err
	}
	return sl.Run(ctx, spec)
}

// Warm starts the lane's slots for the warm runtimes now rather than at
// their first run.
func (l *Lane) Warm() error {
	var errs []error
	for name := range l.s.runtimes {
		if WarmRuntimes[name] {
			_, err := l.slot(name)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Lane) slot(name string) (*Slot, error) {
	if sl := l.slots[name]; sl != nil {
		return sl, nil
	}
	sl, err := l.s.NewSlot(name)
	if err != nil {
		return nil, err
	}
	l.slots[name] = sl
	return sl, nil
}

// Close stops the lane's slots.
func (l *Lane) Close() error {
	for _, sl := range l.slots {
		sl.Close()
	}
	return nil
}
