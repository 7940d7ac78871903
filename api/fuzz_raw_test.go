package api_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// FuzzRawHTTP sends raw bytes as a request to the API behind Go's HTTP
// server, configured as serve configures it: whatever comes (a malformed
// request line, a NUL in a header, a bad Content-Length), the answers are
// well-formed HTTP responses none of which is a 500, or a closed
// connection; and the server goes on answering.
func FuzzRawHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"code\":\"1\"}",
		"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"POST /api/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /api/jobs/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET\r\n\r\n",
		"\x00\x01\x02\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-nothing\r\n\r\n",
		"GET //api/jobs/../readyz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	store, err := sqlite.Open(sqlite.Config{Dir: f.TempDir(), QueueCap: 50})
	if err != nil {
		f.Fatal(err)
	}
	// A unix socket: a fuzz of many thousand connections uses up no ports
	// (TIME_WAIT), and a client can still half-close.
	sock := filepath.Join(f.TempDir(), "api.sock")
	raw, err := net.Listen("unix", sock)
	if err != nil {
		f.Fatal(err)
	}
	ln := api.ProtocolErrors(raw)
	dial := func(t *testing.T) *net.UnixConn {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	srv := &http.Server{Handler: api.New(store, api.Config{}), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	f.Cleanup(func() {
		_ = srv.Close()
		store.Close()
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := dial(t)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(raw); err != nil {
			return // the server closed first: fine
		}
		_ = c.CloseWrite()
		br := bufio.NewReader(c)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break // closed, or no more answers
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// 501 and 505 are the protocol's answers to what it does not
			// speak; a 500 would be a fault of ours.
			if resp.StatusCode == http.StatusInternalServerError {
				t.Fatalf("%q: %s", raw, resp.Status)
			}
		}
		h := dial(t)
		defer h.Close()
		_ = h.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(h, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(h), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after %q the server does not answer: %v", raw, err)
		}
		resp.Body.Close()
	})
}
