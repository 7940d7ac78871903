//go:build linux

package sandbox_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
)

// TestMemoryParity: the same program reports the same memory cold and warm
// (its peak resident memory as if it ran alone: a cold run's RSS, within
// a few per cent), and meets its memory limit at the same size, on the
// host's python and on each runtime of its own root.
func TestMemoryParity(t *testing.T) {
	sandboxFor(t)
	defer slots.closeAll()
	runtimes := []mode{cold}
	if rooted != nil {
		for _, rt := range rooted.Runtimes() {
			if rt.Root != "" {
				runtimes = append(runtimes, mode{runtime: rt.Name, s: rooted})
			}
		}
	}
	// The peak RSS as the program sees it (ru_maxrss), read with no
	// import: what the zygote has loaded already costs a warm program
	// less, as the package doc says (PyPy's `import resource`, 4.5 MiB).
	rss := "for l in open('/proc/self/status'):\n    if l.startswith('VmHWM'): print(l.split()[1])"
	programs := map[string]string{
		"print":     "print(1)",
		"bytearray": "b = bytearray(50 << 20)",
		"list":      "x = list(range(10**6))",
	}
	for _, c := range runtimes {
		w := c
		w.warm = true
		name := c.runtime
		if name == "" {
			name = "python"
		}
		t.Run(name, func(t *testing.T) {
			defer slots.closeAll() // their processes would count as the next runtime's
			for what, code := range programs {
				cr := c.run(t, code+"\n"+rss, onpyrunner.Limits{MemoryMB: c.memoryMB(128)}, nil)
				wr := w.run(t, code+"\n"+rss, onpyrunner.Limits{MemoryMB: c.memoryMB(128)}, nil)
				if cr.Verdict != onpyrunner.OK || wr.Verdict != onpyrunner.OK {
					t.Fatalf("%s: cold %s, warm %s", what, show(cr), show(wr))
				}
				// The cold run's memory is the RSS its program sees.
				if self, _ := strconv.ParseInt(strings.TrimSpace(lastLine(cr.Stdout)), 10, 64); !near(cr.MemoryKB, self) {
					t.Errorf("%s: cold run's memory %d KiB, its own peak RSS %d KiB", what, cr.MemoryKB, self)
				}
				if !near(wr.MemoryKB, cr.MemoryKB) {
					t.Errorf("%s: memory %d KiB warm, %d KiB cold", what, wr.MemoryKB, cr.MemoryKB)
				}
			}
			// MiB by MiB to the limit: the last one reached is the same.
			grow := "import sys\na = []\nwhile True:\n    a.append(bytearray(1 << 20))\n    sys.stderr.write('%d\\n' % len(a))\n"
			l := onpyrunner.Limits{MemoryMB: c.memoryMB(200)}
			var reached [2]int64
			for i, m := range []mode{c, w} {
				res := m.run(t, grow, l, nil)
				if res.Verdict != onpyrunner.MemoryLimit {
					t.Fatalf("grow: %s", show(res))
				}
				reached[i], _ = strconv.ParseInt(lastLine(res.Stderr), 10, 64)
			}
			if !near(reached[1]<<10, reached[0]<<10) {
				t.Errorf("grow: reached %d MiB warm, %d MiB cold, limit %d MiB", reached[1], reached[0], l.MemoryMB)
			}
		})
	}
}

// near says whether got is within a few per cent (5, and 1 MiB) of want.
func near(got, want int64) bool {
	d := got - want
	return max(d, -d) <= max(want/20, 1024)
}

func lastLine(s string) string {
	lines := strings.Fields(s)
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
