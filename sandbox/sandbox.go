//go:build linux

package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/runtimes"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
)

// Sandbox runs programs isolated and under limits. It is safe for
// concurrent use.
type Sandbox struct {
	cfg      Config
	cgroups  cgroup.Manager
	runtimes map[string]*Runtime
	filter   []syscall.SockFilter
	uids     *uidPool
	uidLock  *os.File // holds this process's block of host uids
	landlock *llRules // the runs' Landlock rules; nil without Landlock
	capLast  int      // the kernel's last capability
	slotCPUs slotCPUs
	masks    []procMask // the /proc entries each run sees masked
	// footprints are the runtimes' cold footprints (memory.go).
	footprints coldFootprints
}

// Close removes what New made on the host (this process's cgroup
// directories, once no other Sandbox of this process holds them); call it
// once every run and slot has ended. The Sandbox cannot run after.
func (s *Sandbox) Close() error { return s.cgroups.Close() }

// New checks that this host can run sandboxes (root, cgroups, namespaces),
// probes the installed runtimes and prepares this process's cgroup subtree.
func New(cfg Config) (*Sandbox, error) {
	if cfg.Runtimes == nil {
		cfg.Runtimes = KnownRuntimes
	}
	if cfg.MaxRuns == 0 {
		cfg.MaxRuns = 256
	}
	if cfg.MaxRuns >= uidBlockSize {
		return nil, fmt.Errorf("sandbox: MaxRuns %d is over %d", cfg.MaxRuns, uidBlockSize-1)
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.ScratchInodes == 0 {
		cfg.ScratchInodes = 8192
	}
	if cfg.RootDir == "" {
		cfg.RootDir = "/run/onpyrunner/root"
	}
	if cfg.WarmRuntimes <= 0 {
		cfg.WarmRuntimes = 3
	}
	if cfg.WarmIdle <= 0 {
		cfg.WarmIdle = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("sandbox: must run as root (it creates namespaces and cgroups)")
	}
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, syscall.PR_GET_DUMPABLE, 0, 0); e == syscall.ENOTSUP {
		return nil, errors.New("sandbox: this binary was built with cgo; build it with CGO_ENABLED=0")
	}
	if err := emptyRootDir(cfg.RootDir); err != nil {
		return nil, err
	}
	base, uidLock, err := claimUIDBlock(filepath.Join(filepath.Dir(cfg.RootDir), "uids"), cfg.UIDBase)
	if err != nil {
		return nil, err
	}
	cfg.UIDBase = base
	cg, err := cgroup.New()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	raw, err := filterProgram()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, cgroups: cg, runtimes: map[string]*Runtime{}, uidLock: uidLock,
		uids: newUIDPool(cfg.UIDBase+1, cfg.MaxRuns), landlock: landlockRules(), masks: procMasks(), capLast: capLast()}
	for _, ins := range raw {
		s.filter = append(s.filter, syscall.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K})
	}
	for name, bin := range cfg.Runtimes {
		rt, err := probeRuntime(name, bin, cfg.HostPackages)
		if errors.Is(err, ErrNoRuntime) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox: runtime %s: %w", name, err)
		}
		s.runtimes[name] = rt
	}
	roots, err := runtimes.List(cfg.RuntimesDir)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	for _, r := range roots {
		rt, err := rootRuntime(r)
		if err != nil {
			return nil, fmt.Errorf("sandbox: runtime %s: %w", r.Name, err)
		}
		s.runtimes[r.Name] = rt
	}
	return s, nil
}

// runtime is what spec runs on: the runtime it names, or the newest of its
// language that its version selects.
func (s *Sandbox) runtime(spec Spec) (*Runtime, error) {
	name := spec.Runtime
	if name == "" {
		name = "python"
	}
	if rt := s.runtimes[name]; rt != nil && rt.Language != name && onpyrunner.VersionMatches(rt.Version, spec.Version) {
		return rt, nil // a runtime's own name
	}
	var best *Runtime
	for _, rt := range s.runtimes {
		if rt.Language == name && onpyrunner.VersionMatches(rt.Version, spec.Version) &&
			(best == nil || onpyrunner.CompareVersions(rt.Version, best.Version) > 0 ||
				onpyrunner.CompareVersions(rt.Version, best.Version) == 0 && rt.Root != "") {
			best = rt
		}
	}
	if best == nil {
		var have []string
		for _, rt := range s.Runtimes() {
			have = append(have, rt.Language+" "+rt.Version)
		}
		what := name
		if spec.Version != "" {
			what += " " + spec.Version
		}
		return nil, fmt.Errorf("sandbox: %w: %s; installed: %s", ErrNoRuntime, what, strings.Join(have, ", "))
	}
	return best, nil
}

// emptyRootDir makes dir, a real directory owned by root that the inits
// (unprivileged on the host) can reach.
func emptyRootDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if !st.IsDir() || st.Sys().(*syscall.Stat_t).Uid != 0 {
		return fmt.Errorf("sandbox: %s must be a directory owned by root", dir)
	}
	return os.Chmod(dir, 0o755)
}

// Runtimes lists the installed runtimes, by name.
func (s *Sandbox) Runtimes() []Runtime {
	var out []Runtime
	for _, rt := range s.runtimes {
		out = append(out, *rt)
	}
	slices.SortFunc(out, func(a, b Runtime) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Languages lists the installed runtimes as the service offers them,
// each language's default first.
func (s *Sandbox) Languages() []onpyrunner.Runtime {
	var out []onpyrunner.Runtime
	for _, rt := range s.Runtimes() {
		out = append(out, onpyrunner.Runtime{Language: rt.Language, Version: rt.Version, Implementation: rt.Implementation,
			ImplementationVersion: rt.ImplementationVersion, Packages: append([]string{}, rt.Packages...), Preload: rt.Preload})
	}
	return onpyrunner.MarkDefaults(out)
}

// CgroupVersion is 1 or 2: the cgroup version the sandbox found.
func (s *Sandbox) CgroupVersion() int { return s.cgroups.Version() }

// Landlock says whether runs are also confined by Landlock.
func (s *Sandbox) Landlock() bool { return s.landlock != nil }

// policy is what every run's program gets, for a program that joins
// cgroups cgroup files and has the limits rl.
func (s *Sandbox) policy(cgroups int, rl []rlimit) policy {
	p := policy{uid: programUID, cgroups: cgroups, capLast: s.capLast, landlock: s.landlock != nil}
	for _, r := range rl {
		p.rlimits = append(p.rlimits, r.Resource)
	}
	return p
}

// Run runs spec to the end and says how it went. An error means the
// sandbox itself could not run the program (or ctx ended the run); every
// outcome of the program, however it misbehaves, is a Result.
func (s *Sandbox) Run(ctx context.Context, spec Spec) (*onpyrunner.Result, error) {
	rt, err := s.runtime(spec)
	if err != nil {
		return nil, err
	}
	return s.runOn(ctx, rt, spec)
}

// runOn runs spec cold on rt, the runtime it selects.
func (s *Sandbox) runOn(ctx context.Context, rt *Runtime, spec Spec) (*onpyrunner.Result, error) {
	fp, err := s.coldFootprint(rt)
	if err != nil {
		return nil, err
	}
	return s.runCold(ctx, rt, spec, coldAccounting(fp), nil)
}

// runCold runs spec cold on rt, its memory counted by acct; measured, when
// set, receives the raw counts.
func (s *Sandbox) runCold(ctx context.Context, rt *Runtime, spec Spec, acct accounting, measured *footprint) (*onpyrunner.Result, error) {
	lim := spec.Limits.WithDefaults()
	if err := validLimits(lim); err != nil {
		return nil, err
	}
	uid, ok := s.uids.acquire()
	if !ok {
		return nil, fmt.Errorf("sandbox: more than %d runs at once", s.cfg.MaxRuns)
	}
	defer s.uids.release(uid)
	cg, err := s.cgroups.NewRun(newID(), cgroup.Limits{
		MemoryBytes: acct.cgroupLimit(lim.MemoryMB << 20), Pids: lim.Processes, CPUs: s.cfg.CPUs})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		if err := cg.Remove(10 * time.Second); err != nil {
			s.cfg.Logger.Error("sandbox: cgroup left behind", "err", err)
		}
	}()
	r := &run{s: s, rt: rt, spec: spec, lim: lim, uid: uid, cg: cg, acct: acct, measured: measured}
	return r.run(ctx)
}

// validLimits checks a run's limits (defaults applied) as the API and the
// command line do.
func validLimits(l onpyrunner.Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uidPool hands each run in flight a uid of its own, so runs cannot signal,
// trace or share per-user kernel limits with one another.
type uidPool struct {
	mu   sync.Mutex
	base int
	used []bool
}

func newUIDPool(base, n int) *uidPool { return &uidPool{base: base, used: make([]bool, n)} }

func (p *uidPool) acquire() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.used {
		if !u {
			p.used[i] = true
			return p.base + i, true
		}
	}
	return 0, false
}

func (p *uidPool) release(uid int) {
	p.mu.Lock()
	p.used[uid-p.base] = false
	p.mu.Unlock()
}

// rootPath is where the runs' roots are built.
func (s *Sandbox) rootPath() string { return filepath.Clean(s.cfg.RootDir) }
