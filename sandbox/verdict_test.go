//go:build linux

package sandbox

import (
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/sandbox/internal/cgroup"
)

func TestVerdict(t *testing.T) {
	l := onpyrunner.Limits{TimeMs: 1000}
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	killed := syscall.WaitStatus(syscall.SIGKILL)
	cases := []struct {
		name   string
		killed onpyrunner.Verdict
		ws     syscall.WaitStatus
		st     cgroup.Stats
		want   onpyrunner.Verdict
	}{
		{"ok", "", exited(0), cgroup.Stats{}, onpyrunner.OK},
		{"exit 3", "", exited(3), cgroup.Stats{}, onpyrunner.RuntimeError},
		{"killed itself", "", killed, cgroup.Stats{}, onpyrunner.RuntimeError},
		{"supervisor enforced wall", onpyrunner.WallTimeLimit, killed, cgroup.Stats{OOMKills: 1}, onpyrunner.WallTimeLimit},
		{"rlimit cpu kill", "", killed, cgroup.Stats{CPU: 1100 * time.Millisecond}, onpyrunner.TimeLimit},
		{"cpu over though exited 0", "", exited(0), cgroup.Stats{CPU: time.Second}, onpyrunner.TimeLimit},
		{"oom kill", "", killed, cgroup.Stats{OOMKills: 1}, onpyrunner.MemoryLimit},
		{"child oom, main failed", "", exited(1), cgroup.Stats{OOMKills: 1}, onpyrunner.MemoryLimit},
		{"child oom, main fine", "", exited(0), cgroup.Stats{OOMKills: 1}, onpyrunner.MemoryLimit},
	}
	for _, c := range cases {
		if got := verdict(c.killed, c.ws, c.st, l); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzCapped: whatever arrives, in whatever pieces, the kept output is the
// input's prefix of at most the cap, and the limit is reported exactly when
// the input passed it.
func FuzzCapped(f *testing.F) {
	f.Add([]byte("hello"), uint8(3), uint8(2))
	f.Add([]byte{0xff, 0, 1}, uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, capN, piece uint8) {
		hit := make(chan onpyrunner.Verdict, 1)
		c := newCapped(int64(capN), nil, hit)
		step := int(piece%16) + 1
		for i := 0; i < len(in); i += step {
			c.keep(in[i:min(i+step, len(in))])
		}
		want := in[:min(len(in), int(capN))]
		if string(c.buf) != string(want) {
			t.Fatalf("kept %q, want %q", c.buf, want)
		}
		if over := len(in) > int(capN); c.truncated != over || (len(hit) == 1) != over {
			t.Fatalf("truncated %v, reported %d, input %d cap %d", c.truncated, len(hit), len(in), capN)
		}
	})
}
