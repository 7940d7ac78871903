package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

// TestServeMemoryBounded sends 30 submissions of the largest size at once
// to a server with the embedded store, and to an API process of the
// distributed mode: its peak resident memory stays under 300 MB (it held
// 4.5 times each body before), each answer is 202 or 503 with
// Retry-After, and some are accepted.
func TestServeMemoryBounded(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		submitLargest(t, startServe(t, "--data", t.TempDir(), "--slots", "1"))
	})
	t.Run("distributed", func(t *testing.T) {
		submitLargest(t, startServe(t, "--redis", testenv.StartRedis(t).URL, "--slots", "0"))
	})
}

func submitLargest(t *testing.T, s *server) {
	body := `{"code":"pass","input":"` + strings.Repeat("a", 8<<20) + `"}`
	var accepted, refused atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			resp, err := http.Post(s.url+"/api/jobs", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch {
			case resp.StatusCode == 202:
				accepted.Add(1)
			case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
				refused.Add(1)
			default:
				t.Errorf("a largest submission: %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("30 submissions of 8 MiB at once: %d accepted, %d refused with 503; peak RSS %d MB", accepted.Load(), refused.Load(), peak>>20)
	if accepted.Load() == 0 {
		t.Error("none accepted")
	}
	if peak > 300<<20 {
		t.Errorf("peak RSS %d MB, over 300 MB", peak>>20)
	}
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
