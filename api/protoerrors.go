package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/onpyrunner/onpyrunner"
)

// ProtocolErrors wraps ln so that the errors Go's HTTP server answers by
// itself, before any handler runs (a malformed request line or header, a
// bad Content-Length, headers too large, an unsupported transfer encoding
// or version), come in the API's JSON error shape like every other error.
func ProtocolErrors(ln net.Listener) net.Listener { return protoListener{ln} }

type protoListener struct{ net.Listener }

// Accept wraps each connection.
func (l protoListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return protoConn{c}, nil
}

// protoConn rewrites the one kind of write that is Go's own error answer:
// a status line followed at once by these headers, in one write.
type protoConn struct{ net.Conn }

const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// protoCodes are the API's codes for the statuses Go answers by itself.
var protoCodes = map[int]onpyrunner.Code{431: onpyrunner.CodeTooLarge}

// Write passes everything on but Go's own error answers, which it words
// as the API does.
func (c protoConn) Write(p []byte) (int, error) {
	line, text, ok := bytes.Cut(p, []byte(goErrorHeaders))
	status, isGo := bytes.CutPrefix(line, []byte("HTTP/1.1 "))
	if !ok || !isGo || len(status) < 3 || bytes.Contains(line, []byte("\r\n")) {
		return c.Conn.Write(p)
	}
	n, err := strconv.Atoi(string(status[:3]))
	if err != nil {
		return c.Conn.Write(p)
	}
	code, ok := protoCodes[n]
	if !ok {
		code = onpyrunner.CodeInvalid
	}
	msg := string(bytes.TrimSpace(text))
	if len(msg) > 4 && msg[:3] == string(status[:3]) {
		msg = msg[4:] // "400 Bad Request: why" says its status again
	}
	body, _ := json.Marshal(map[string]*onpyrunner.Error{"error": onpyrunner.Errorf(code, "not a request this server can read: %s", msg)})
	out := fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		status, len(body)+1, body)
	if _, err := c.Conn.Write([]byte(out)); err != nil {
		return 0, err
	}
	return len(p), nil
}
