package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// halfClosed sends one raw request and closes its write side, as some
// clients do once they have sent everything, then reads the answer.
func halfClosed(t *testing.T, url, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, len(body), body)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: no answer after a half-close: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestHalfClose: a client that closes its write side after the request
// still gets the answer: a half-close is not a cancel.
func TestHalfClose(t *testing.T) {
	ts := newServer(t, serverOpts{fake: true})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     onpyrunner.Status
	}{
		{"submit", "POST", "/api/jobs", `{"code":"print(1)"}`, 202, onpyrunner.Queued},
		{"submit and wait", "POST", "/api/jobs?wait=20", `{"code":"print(2)"}`, 200, onpyrunner.Completed},
		{"readyz", "GET", "/readyz", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := halfClosed(t, ts.URL, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if tc.want == "" {
				return
			}
			var j onpyrunner.Job
			if err := json.Unmarshal(b, &j); err != nil || j.ID == "" {
				t.Fatalf("%s: %v", b, err)
			}
			if tc.want == onpyrunner.Completed && j.Status != tc.want {
				t.Errorf("status %s after the wait, want %s", j.Status, tc.want)
			}
			got, err := ts.Client.Wait(t.Context(), j.ID)
			if err != nil || got.Status != onpyrunner.Completed {
				t.Errorf("the job: %+v %v, want it accepted and run", got, err)
			}
			resp, b = halfClosed(t, ts.URL, "GET", "/api/jobs/"+j.ID+"?wait=5", "")
			if resp.StatusCode != 200 {
				t.Errorf("GET ?wait= half-closed: %d %s", resp.StatusCode, b)
			}
		})
	}
}
