package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// TestServeDrainAnswers sends SIGTERM while clients wait: each wait ends
// with the job as it stands (200, never a 500 for an accepted job), and for
// the shutdown delay readyz answers 503 on a kept-alive connection, reads go
// on, and a new submission gets 503 with Retry-After.
func TestServeDrainAnswers(t *testing.T) {
	s := startServe(t, "--data", t.TempDir(), "--slots", "1", "--drain", "20s", "--shutdown-delay", "3s")
	slow := submitSlow(t, s.client, 4)
	untilRunning(t, s.client, slow)
	hc := &http.Client{Timeout: 30 * time.Second}
	get := func(method, path, body string) (int, http.Header, []byte, error) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, nil
	}
	if code, _, b, err := get("GET", "/readyz", ""); code != 200 {
		t.Fatalf("readyz before: %d %s %v", code, b, err)
	}
	waits := []struct{ method, path, body string }{
		{"GET", "/api/jobs/" + slow + "?wait=30", ""},
		{"POST", "/api/jobs?wait=30", `{"code":"print(5)"}`}, // queued behind the slow job
	}
	var wg sync.WaitGroup
	for _, w := range waits {
		wg.Go(func() {
			code, _, b, err := get(w.method, w.path, w.body)
			var j onpyrunner.Job
			if err != nil || code != 200 || json.Unmarshal(b, &j) != nil || j.ID == "" {
				t.Errorf("%s %s across SIGTERM: %d %s %v, want 200 with the job", w.method, w.path, code, b, err)
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // the waits are in
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait() // the waits end at the drain, not after 30 s
	if code, _, b, err := get("GET", "/readyz", ""); code != 503 {
		t.Errorf("readyz during the drain: %d %s %v, want 503", code, b, err)
	}
	if code, _, b, err := get("GET", "/api/jobs/"+slow, ""); code != 200 {
		t.Errorf("a read during the drain: %d %s %v, want 200", code, b, err)
	}
	code, h, b, err := get("POST", "/api/jobs", `{"code":"print(6)"}`)
	if code != 503 || h.Get("Retry-After") == "" || h.Get("Location") != "" {
		t.Errorf("a submission during the drain: %d %v %s %v, want 503 with Retry-After and no Location", code, h, b, err)
	}
	if err := s.waitExit(t, 40*time.Second); err != nil {
		t.Errorf("serve exited with %v", err)
	}
}
