//go:build linux

package sandbox

import (
	"context"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// Lane runs one program at a time for one worker: in a warm slot of its
// own when the runtime has one and the sandbox is not Config.Cold, else
// with a fresh interpreter. The default python's slot starts with the
// lane and stays; another runtime's starts at its first run and closes
// when it has served no run for Config.WarmIdle, or when a run on a
// runtime beyond Config.WarmRuntimes needs its place (the one that served
// least recently goes). An idle zygote holds memory (see the README's
// figures per runtime): the cap bounds a lane's to a few of them.
type Lane struct {
	s   *Sandbox
	def string // the default python's runtime name: its slot stays

	mu     sync.Mutex // slots, against the idle timers
	slots  map[string]*laneSlot
	closed bool
}

// laneSlot is a warm slot of a lane and when it last served.
type laneSlot struct {
	sl    *Slot
	busy  bool
	used  time.Time
	timer *time.Timer // closes it once idle; nil while busy, or for the default
}

// NewLane returns a lane with its default python's warm slot started (one
// that fails to start is logged and started again at its first run);
// Close it when done.
func (s *Sandbox) NewLane() *Lane {
	l := &Lane{s: s, slots: map[string]*laneSlot{}}
	rt, err := s.runtime(Spec{})
	if err != nil || s.cfg.Cold || !rt.warm() {
		return l
	}
	l.def = rt.Name
	if ls, err := l.acquire(rt); err != nil {
		s.cfg.Logger.Error("sandbox: start a warm slot", "err", err)
	} else {
		l.release(rt.Name, ls)
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
	ls, err := l.acquire(rt)
	if err != nil { // a zygote that does not start: the job runs all the same
		l.s.cfg.Logger.Error("sandbox: start a warm slot; running cold", "runtime", rt.Name, "err", err)
		return l.s.runOn(ctx, rt, spec)
	}
	defer l.release(rt.Name, ls)
	return ls.sl.Run(ctx, spec)
}

// acquire returns rt's slot, started if need be, marked busy: no timer
// closes it until release.
func (l *Lane) acquire(rt *Runtime) (*laneSlot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ls := l.slots[rt.Name]; ls != nil {
		if ls.timer != nil {
			ls.timer.Stop()
			ls.timer = nil
		}
		ls.busy = true
		return ls, nil
	}
	if len(l.slots) >= l.s.cfg.WarmRuntimes {
		l.evictLocked()
	}
	sl, err := l.s.slotFor(rt, false)
	if err != nil {
		return nil, err
	}
	ls := &laneSlot{sl: sl, busy: true}
	l.slots[rt.Name] = ls
	return ls, nil
}

// release marks ls, the slot of runtime name, idle, and sets its timer.
func (l *Lane) release(name string, ls *laneSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls.busy, ls.used = false, time.Now()
	if name != l.def && !l.closed {
		ls.timer = time.AfterFunc(l.s.cfg.WarmIdle, func() { l.expire(name, ls) })
	}
}

// expire closes ls, the slot of runtime name, if it is still the lane's
// and has stayed idle.
func (l *Lane) expire(name string, ls *laneSlot) {
	l.mu.Lock()
	if l.slots[name] != ls || ls.busy || time.Since(ls.used) < l.s.cfg.WarmIdle {
		l.mu.Unlock()
		return
	}
	delete(l.slots, name)
	l.mu.Unlock()
	ls.sl.Close()
}

// evictLocked closes the idle slot, not the default's, that served least
// recently (l.mu held).
func (l *Lane) evictLocked() {
	var oldest string
	for name, ls := range l.slots {
		if name != l.def && !ls.busy && (oldest == "" || ls.used.Before(l.slots[oldest].used)) {
			oldest = name
		}
	}
	if ls := l.slots[oldest]; ls != nil {
		if ls.timer != nil {
			ls.timer.Stop()
		}
		delete(l.slots, oldest)
		ls.sl.Close()
	}
}

// Ready says whether a run of spec would start at once: its runtime's
// warm slot is up, or it runs with a fresh interpreter anyway.
func (l *Lane) Ready(spec Spec) bool {
	rt, err := l.s.runtime(spec)
	if err != nil || !rt.warm() || l.s.cfg.Cold {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.slots[rt.Name]
	return ls != nil && !ls.busy
}

// Warm lists the runtimes whose warm slots the lane holds now.
func (l *Lane) Warm() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for name := range l.slots {
		names = append(names, name)
	}
	return names
}

// Close stops the lane's slots.
func (l *Lane) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for name, ls := range l.slots {
		if ls.timer != nil {
			ls.timer.Stop()
		}
		ls.sl.Close()
		delete(l.slots, name)
	}
	return nil
}
