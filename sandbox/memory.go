//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// A run's memory (Result.MemoryKB) and its limit (Limits.MemoryMB) are its
// peak resident memory as if it had run alone: what /usr/bin/time or
// getrusage reports as the maximum resident set size of `python3 main.py`
// run by hand, which is what judges that run on Linux show and what a
// competitive programmer compares with. Two counts of the kernel's give
// it, and each path sees both askew:
//
//   - The peak RSS of the program's process (and of the children it
//     waited for) counts the pages it maps, shared or not. A warm run's
//     process is a fork of its zygote and maps the zygote's pages too,
//     modules the zygote imported for its own work among them.
//   - The peak charge of the run's cgroup counts all its processes
//     together, files in its scratch space included, but only the pages
//     that the run brought in: not the interpreter's files that other
//     runs read first, and on the warm path not the start-up pages it
//     shares with its zygote.
//
// An empty program's run measures, for each runtime and path, how far
// each count is from the RSS of the interpreter started by hand (a cold
// run's): a warm process's RSS exceeds it by what the zygote maps beyond
// a fresh interpreter, and the cgroup charges less than it by what is
// resident but not the run's to pay. A run's memory is then the larger of
// its RSS less that excess and its cgroup's charge plus that shortfall,
// the second of which also counts processes side by side; and its cgroup
// is limited to the limit less the shortfall, so that the same program
// meets the limit at the same size on both paths. The cold path's
// footprint is measured once per runtime, a warm slot's each time it
// starts a zygote (so that a zygote's own size never counts against a
// program). What is left between the paths is the noise of the counts
// themselves (a few hundred KiB for CPython, a few MiB for PyPy, whose
// collector copies shared pages as it pleases) and modules that the
// zygote had imported already, which cost a warm program nothing.

// footprint is an empty program's run as the kernel counts it: the peak RSS
// of its process and the peak charge of its cgroup, in bytes.
type footprint struct{ rss, charge int64 }

// accounting turns a run's counts into its memory, and its limit into its
// cgroup's.
type accounting struct {
	excess    int64 // the process's RSS beyond the program's own
	uncharged int64 // what the program holds that its cgroup is not charged
}

// coldAccounting counts cold runs, whose empty run measured cold.
func coldAccounting(cold footprint) accounting {
	return accounting{uncharged: max(cold.rss-cold.charge, 0)}
}

// warmAccounting counts a slot's runs, from the empty runs cold and on it.
func warmAccounting(cold, warm footprint) accounting {
	return accounting{excess: warm.rss - cold.rss, uncharged: max(cold.rss-warm.charge, 0)}
}

// peak is the memory of a run limited to limit bytes, from its process's
// peak RSS (0 when unknown) and its cgroup's peak charge. It is never
// above the limit, which the cgroup held it to: an RSS past it holds
// pages counted twice (a file both mapped and charged as written).
func (a accounting) peak(maxRSS, charge, limit int64) int64 {
	if maxRSS > 0 {
		maxRSS -= a.excess
	}
	return min(max(maxRSS, charge+a.uncharged, 0), limit)
}

// minCgroupMemory is the least a run's cgroup is limited to, however far its
// limit is below its interpreter's own footprint: the run then meets its
// limit at once.
const minCgroupMemory = 1 << 20

// cgroupLimit is the memory limit of a run's cgroup for a run limited to
// limit bytes.
func (a accounting) cgroupLimit(limit int64) int64 {
	return max(limit-a.uncharged, minCgroupMemory)
}

// emptyRun is the program whose runs on rt measure a footprint: nothing,
// with limits no start-up meets, however loaded the machine. On PyPy it
// collects once: a warm run's first major collection walks the zygote's
// heap and copies it into the run's cgroup, which charges pages that a
// cold run counts in its footprint already; measured so, a warm
// program's charge is not counted twice.
func emptyRun(rt *Runtime) Spec {
	spec := Spec{Runtime: rt.Name, Limits: onpyrunner.Limits{TimeMs: 30_000, WallTimeMs: 60_000, MemoryMB: 1024}}
	if rt.Implementation == "pypy" {
		spec.Code = []byte("import gc\ngc.collect()\n")
	}
	return spec
}

// measure runs the empty program twice with run (counted raw) and returns
// the least of each count.
func measure(run func(ctx context.Context, fp *footprint) (*onpyrunner.Result, error)) (footprint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var least footprint
	for i := range 2 {
		var fp footprint
		res, err := run(ctx, &fp)
		if err == nil && res.Verdict != onpyrunner.OK {
			err = fmt.Errorf("%s: %s", res.Verdict, res.Stderr)
		}
		if err != nil {
			return footprint{}, fmt.Errorf("sandbox: measure an empty run: %w", err)
		}
		if i == 0 || fp.rss < least.rss {
			least.rss = fp.rss
		}
		if i == 0 || fp.charge < least.charge {
			least.charge = fp.charge
		}
	}
	return least, nil
}

// coldFootprints are the cold path's footprints, measured once per runtime.
type coldFootprints struct {
	mu  sync.Mutex
	got map[*Runtime]footprint
}

// coldFootprint is rt's cold footprint, measured at its first use.
func (s *Sandbox) coldFootprint(rt *Runtime) (footprint, error) {
	c := &s.footprints
	c.mu.Lock()
	defer c.mu.Unlock()
	if fp, ok := c.got[rt]; ok {
		return fp, nil
	}
	fp, err := measure(func(ctx context.Context, fp *footprint) (*onpyrunner.Result, error) {
		return s.runCold(ctx, rt, emptyRun(rt), accounting{}, fp)
	})
	if err != nil {
		return footprint{}, err
	}
	if c.got == nil {
		c.got = map[*Runtime]footprint{}
	}
	c.got[rt] = fp
	return fp, nil
}
