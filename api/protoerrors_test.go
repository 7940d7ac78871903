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
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// TestProtocolErrors: what Go's HTTP server refuses before any handler
// runs is answered in the API's JSON error shape, with Go's status.
func TestProtocolErrors(t *testing.T) {
	store, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(store, api.Config{}), MaxHeaderBytes: 8 << 10, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(api.ProtocolErrors(ln)) }()
	defer srv.Close()
	send := func(raw string) (*http.Response, []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%.60q: %v", raw, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tc := range []struct {
		name, raw string
		status    int
		code      onpyrunner.Code
		words     string
	}{
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, onpyrunner.CodeInvalid, "Host"},
		{"bad Content-Length", "POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, onpyrunner.CodeInvalid, "not a request"},
		{"NUL in a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, onpyrunner.CodeInvalid, "header"},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", 431, onpyrunner.CodeTooLarge, "Header"},
		{"bad escape in the path", "GET /api/jobs/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, onpyrunner.CodeInvalid, "%-escape"},
		{"HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, onpyrunner.CodeInvalid, "version"},
		{"Expect", "POST /api/jobs HTTP/1.1\r\nHost: x\r\nExpect: 100-nothing\r\nContent-Length: 2\r\n\r\n{}", 417, onpyrunner.CodeInvalid, "Expect"},
		{"transfer encoding", "POST /api/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, onpyrunner.CodeInvalid, "transfer encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := send(tc.raw)
			var e struct{ Error onpyrunner.Error }
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &e) != nil ||
				e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.words) {
				t.Errorf("%d %q %s, want %d with a JSON error %s mentioning %q", resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.status, tc.code, tc.words)
			}
		})
	}
	if resp, b := send("GET /api/runtimes HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || !json.Valid(b) {
		t.Errorf("a good request through the wrapper: %d %s", resp.StatusCode, b)
	}
}
