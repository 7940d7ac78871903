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

// protoConn rewrites the writes that are Go's own error answers: a status
// line followed at once by these headers, in one write; or the empty 417
// that answers an Expect header other than 100-continue (no handler of
// the API answers 417).
type protoConn struct{ net.Conn }

const goExpectationFailed = "HTTP/1.1 417 Expectation Failed\r\n"

const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// protoCodes are the API's codes for the statuses Go answers by itself.
var protoCodes = map[int]onpyrunner.Code{431: onpyrunner.CodeTooLarge}

// Write passes everything on but Go's own error answers, which it words
// as the API does.
func (c protoConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte(goExpectationFailed)) && bytes.HasSuffix(p, []byte("\r\nContent-Length: 0\r\n\r\n")) {
		return c.answer(p, "417 Expectation Failed", onpyrunner.CodeInvalid, "the Expect header asks for what this server does not do (it knows only 100-continue)")
	}
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
	if msg == "Bad Request" { // Go gives no reason for a bad path, say
		msg = "a malformed request line, path (a bad %-escape?) or header"
	}
	return c.answer(p, string(status), code, "not a request this server can read: "+msg)
}

// answer writes, in place of Go's answer p, the same status with the
// API's JSON error, and closes as Go's answer does.
func (c protoConn) answer(p []byte, status string, code onpyrunner.Code, msg string) (int, error) {
	body, _ := json.Marshal(map[string]*onpyrunner.Error{"error": {Code: code, Message: msg}})
	out := fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		status, len(body)+1, body)
	if _, err := c.Conn.Write([]byte(out)); err != nil {
		return 0, err
	}
	return len(p), nil
}
