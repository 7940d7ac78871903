//go:build linux

package sandbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
	"golang.org/x/sys/unix"
)

//go:embed zygote.py
var zygoteSource string

// zygoteBoot starts the zygote: its source, the first argument, compiled
// by compile, which frees the parse tree as it returns (the interpreter
// keeps a -c program's tree until the program ends: for the zygote, about
// 75 KiB per KiB of source, in every fork's pages for ever).
const zygoteBoot = `import sys; exec(compile(sys.argv.pop(1), "zygote.py", "exec"))`

// Slot is a warm sandbox that runs one program at a time: its namespaces,
// root and cgroup are set up once, and a zygote (an interpreter past its
// start-up, inside the slot) forks each program; see the package doc.
// Between runs nothing is left: every run has its own pid, mount and IPC
// namespaces, scratch space and cgroup. A Slot is safe for concurrent use;
// runs wait for each other.
type Slot struct {
	s   *Sandbox
	rt  *Runtime
	uid int // the host uid of this slot's programs
	cpu int // the CPU that the slot's zygote and programs run on, or -1

	mu      sync.Mutex // one run at a time
	z       *zygote
	runs    int         // runs by this zygote
	prog    *cgroup.Run // the last program's cgroup, kept for the next
	noReset bool        // the kernel cannot reset a cgroup for reuse
	// netUsed: the last run made a socket, so the next gets a fresh
	// network namespace (netUse).
	netUsed bool
	// portable: no machine code; the zygote makes each step's call itself
	// and clones its own pid 1s, as where there is none (tests).
	portable bool
}

// zygoteRuns is how many runs a zygote serves before a fresh one replaces
// it, with a fresh hash seed and layout.
const zygoteRuns = 1000

// zygote is a slot's running init and zygote.
type zygote struct {
	cmd  *exec.Cmd
	cg   *cgroup.Run
	ctl  *os.File      // the zygote's end: fd 3 in the zygote
	dead chan struct{} // closed when the init has ended
	acct accounting    // how its runs' memory is counted (memory.go)
}

// warm says whether a Slot runs rt with a zygote: CPython, and PyPy from
// its Python 3.10 on (older ones lack os calls the zygote makes); others
// start a fresh interpreter per run.
func (rt *Runtime) warm() bool {
	return rt.Implementation == "cpython" || rt.Implementation == "pypy" && onpyrunner.CompareVersions(rt.Version, "3.10") >= 0
}

// NewSlot starts a warm slot for runtime: a language or a runtime's name,
// as Spec.Runtime ("" is python).
func (s *Sandbox) NewSlot(runtime string) (*Slot, error) { return s.newSlot(runtime, false) }

func (s *Sandbox) newSlot(runtime string, portable bool) (*Slot, error) {
	rt, err := s.runtime(Spec{Runtime: runtime})
	if err != nil {
		return nil, err
	}
	return s.slotFor(rt, portable)
}

// slotFor starts a warm slot for rt.
func (s *Sandbox) slotFor(rt *Runtime, portable bool) (*Slot, error) {
	if !rt.warm() {
		return nil, fmt.Errorf("sandbox: runtime %s runs cold only", rt.Name)
	}
	uid, ok := s.uids.acquire()
	if !ok {
		return nil, fmt.Errorf("sandbox: more than %d runs at once", s.cfg.MaxRuns)
	}
	sl := &Slot{s: s, rt: rt, uid: uid, cpu: -1, portable: portable}
	if s.cfg.CPUs <= 1 {
		sl.cpu = s.slotCPUs.take()
	}
	if err := sl.restart(); err != nil {
		s.uids.release(uid)
		s.slotCPUs.give(sl.cpu)
		return nil, err
	}
	return sl, nil
}

// Run runs spec in the slot, as Sandbox.Run does; spec.Runtime must be the
// slot's (or empty). A zygote that died is replaced first.
func (sl *Slot) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	if rt, err := sl.s.runtime(spec); err != nil || rt != sl.rt {
		return nil, fmt.Errorf("sandbox: a %s slot cannot run %s %s", sl.rt.Name, spec.Runtime, spec.Version)
	}
	lim := spec.Limits.WithDefaults()
	if err := validLimits(lim); err != nil {
		return nil, err
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.z == nil || sl.z.ended() || sl.runs >= zygoteRuns {
		if err := sl.restart(); err != nil {
			return nil, err
		}
	}
	return sl.runLocked(ctx, spec, lim, sl.z.acct, nil)
}

// runLocked runs spec, limited by lim, on the slot's zygote (sl.mu held),
// its memory counted by acct; measured, when set, receives the raw counts.
func (sl *Slot) runLocked(ctx context.Context, spec Spec, lim onpyrunner.Limits, acct accounting, measured *footprint) (*onpyrunner.Result, error) {
	sl.runs++
	cg, err := sl.progCgroup(cgroup.Limits{MemoryBytes: acct.cgroupLimit(lim.MemoryMB << 20), Pids: lim.Processes, CPUs: sl.s.cfg.CPUs})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	r := &run{s: sl.s, rt: sl.rt, spec: spec, lim: lim, uid: sl.uid, cg: cg, slot: sl, acct: acct, measured: measured}
	res, err := r.run(ctx)
	sl.netUsed = sl.netUsed || r.net.touched()
	sl.keep(cg, err == nil)
	return res, err
}

// keepCharged is the most memory a program may leave charged to its cgroup
// (page cache it read first, kernel objects not yet freed) for the cgroup
// to serve the next program; past it the next gets a fresh cgroup.
const keepCharged = 4 << 20

// progCgroup is the cgroup of the slot's next program: the program alone
// is in it, limited by l. It is the last program's, reset, where that one
// was kept and little is left charged to it (a fresh cgroup costs several
// times a whole warm run's supervision on cgroup v1), else a fresh one.
func (sl *Slot) progCgroup(l cgroup.Limits) (*cgroup.Run, error) {
	if cg := sl.prog; cg != nil {
		sl.prog = nil
		err := cg.Reset(l)
		if err == nil && cg.Charged() <= keepCharged {
			return cg, nil
		}
		sl.noReset = errors.Is(err, cgroup.ErrNoReset)
		sl.removeCgroup(cg)
	}
	return sl.z.cg.NewProgRun(progPrefix+newID(), l)
}

// keep keeps a run's cgroup for the next program if the run ended as runs
// do (and the kernel can reset it); otherwise it removes it.
func (sl *Slot) keep(cg *cgroup.Run, clean bool) {
	if clean && !sl.noReset {
		sl.prog = cg
		return
	}
	sl.removeCgroup(cg)
}

// dropProg removes the kept program cgroup, if any.
func (sl *Slot) dropProg() {
	if sl.prog != nil {
		sl.removeCgroup(sl.prog)
		sl.prog = nil
	}
}

func (sl *Slot) removeCgroup(cg *cgroup.Run) {
	if err := cg.Remove(10 * time.Second); err != nil {
		sl.s.cfg.Logger.Error("sandbox: cgroup left behind", "err", err)
	}
}

// Close stops the slot.
func (sl *Slot) Close() error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.dropProg() // it is inside the slot's cgroup
	if sl.z != nil {
		sl.z.stop(sl.s)
		sl.z = nil
	}
	sl.s.uids.release(sl.uid)
	sl.s.slotCPUs.give(sl.cpu)
	sl.cpu = -1
	return nil
}

func (z *zygote) ended() bool {
	select {
	case <-z.dead:
		return true
	default:
		return false
	}
}

// kill ends the zygote and its init; the slot replaces it at its next run.
func (z *zygote) kill() {
	_ = z.cmd.Process.Kill()
	<-z.dead
}

// stop ends the zygote and removes the slot's cgroup, which must hold no
// program's cgroup any more.
func (z *zygote) stop(s *Sandbox) {
	z.kill()
	z.ctl.Close()
	if err := z.cg.Remove(10 * time.Second); err != nil {
		s.cfg.Logger.Error("sandbox: slot cgroup left behind", "err", err)
	}
}

// slotPrefix starts the name of a slot's own cgroup, progPrefix that of its
// programs'.
const (
	slotPrefix = "slot-"
	progPrefix = "prog-"
)

// slotLimits hold the slot's own processes: the init, the zygote, and the
// small per-run helpers it forks.
var slotLimits = onpyrunner.Limits{MemoryMB: 256, Processes: 64}

// restart (re)starts the slot's init and zygote.
func (sl *Slot) restart() error {
	sl.dropProg() // inside the slot's cgroup: a fresh one with the fresh zygote
	if sl.z != nil {
		sl.z.stop(sl.s)
		sl.z = nil
	}
	cg, err := sl.s.cgroups.NewSlot(slotPrefix+newID(), cgroup.Limits{
		MemoryBytes: slotLimits.MemoryMB << 20, Pids: slotLimits.Processes, CPUs: 0})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	z, err := sl.startZygote(cg)
	if err != nil {
		_ = cg.Remove(10 * time.Second)
		return err
	}
	sl.z, sl.runs, sl.netUsed = z, 0, false // a fresh zygote starts in a fresh one
	cold, err := sl.s.coldFootprint(sl.rt)
	if err != nil {
		return err
	}
	warm, err := measure(func(ctx context.Context, fp *footprint) (*onpyrunner.Result, error) {
		spec := emptyRun(sl.rt)
		return sl.runLocked(ctx, spec, spec.Limits.WithDefaults(), accounting{}, fp)
	})
	if err != nil {
		return err
	}
	sl.z.acct = warmAccounting(cold, warm)
	return nil
}

// slotCPUs gives each slot a CPU of its own among those this process may
// run on, while there are more CPUs than slots: its zygote and programs
// run there, which spares every run the moves between CPUs that the
// zygote's forks and hand-offs otherwise cost, and keeps a run's timing
// steady. A slot beyond the CPUs, or a run allowed more than one core, is
// not pinned.
type slotCPUs struct {
	mu   sync.Mutex
	cpus []int        // this process's CPUs, found on first use
	busy map[int]bool // those a slot has
}

// take returns a free CPU for a new slot, or -1.
func (c *slotCPUs) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == nil {
		c.busy = map[int]bool{}
		var set unix.CPUSet
		if unix.SchedGetaffinity(0, &set) == nil {
			for cpu := range 1024 {
				if set.IsSet(cpu) {
					c.cpus = append(c.cpus, cpu)
				}
			}
		}
	}
	for _, cpu := range c.cpus {
		if !c.busy[cpu] {
			c.busy[cpu] = true
			return cpu
		}
	}
	return -1
}

// give returns a slot's CPU.
func (c *slotCPUs) give(cpu int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, cpu)
}
