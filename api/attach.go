package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/onpyrunner/onpyrunner"
)

// The codes of the error messages an attachment sends; the connection
// stays open after each but conflict.
const (
	codeReadOnly       onpyrunner.Code = "read_only"       // a watcher sent input
	codeNotInteractive onpyrunner.Code = "not_interactive" // input for a job that takes none
	codeEnded          onpyrunner.Code = "ended"           // input after the job's end
	codeConflict       onpyrunner.Code = "conflict"        // another client writes to the job
)

const (
	// maxMessage bounds one message from a client: a line of stdin, a
	// paste, in base64 at worst.
	maxMessage = 1 << 20
	// writerHold is how long a writer's hold on a job lasts unless
	// renewed, every writerHold/3 while it is attached: a client whose
	// server died lets go of the job after it.
	writerHold = 30 * time.Second
)

// Frame is one message to an attached client: a status or a piece of
// output (Type status, stdout or stderr, with Data and Seq), a test's end
// (Test), the result (Job), or an error about what the client sent
// (Error).
type Frame struct {
	Type  string            `json:"type"`
	Data  string            `json:"data,omitempty"`
	Seq   int               `json:"seq,omitempty"`
	Job   *onpyrunner.Job   `json:"job,omitempty"`
	Error *onpyrunner.Error `json:"error,omitempty"`
	// Test is a test's result (Type test) as it ends, in judge mode.
	Test *onpyrunner.TestResult `json:"test,omitempty"`
}

// clientMessage is one message from an attached client.
type clientMessage struct {
	Type       string  `json:"type"`
	Data       *string `json:"data"`
	DataBase64 *string `json:"dataBase64"`
	Signal     string  `json:"signal"`
}

// wsSink writes a job's stream to a WebSocket.
type wsSink struct {
	c   *websocket.Conn
	ctx context.Context
}

func (ws wsSink) send(f Frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ws.ctx, 30*time.Second)
	defer cancel()
	return ws.c.Write(ctx, websocket.MessageText, b)
}

func (ws wsSink) event(seq int, t onpyrunner.EventType, data string) error {
	if t == onpyrunner.TestEvent {
		var tr onpyrunner.TestResult
		if err := json.Unmarshal([]byte(data), &tr); err != nil {
			return err
		}
		return ws.send(Frame{Type: string(t), Seq: seq, Test: &tr})
	}
	return ws.send(Frame{Type: string(t), Data: data, Seq: seq})
}
func (ws wsSink) result(j *onpyrunner.Job) error {
	return ws.send(Frame{Type: "result", Job: j.Public(false)})
}
func (ws wsSink) ping() error {
	ctx, cancel := context.WithTimeout(ws.ctx, 30*time.Second)
	defer cancel()
	return ws.c.Ping(ctx)
}

// fail sends an error message; the connection stays open.
func (ws wsSink) fail(code onpyrunner.Code, format string, args ...any) error {
	return ws.send(Frame{Type: "error", Error: onpyrunner.Errorf(code, format, args...)})
}

// attach serves GET /api/jobs/{jobId}/attach, a WebSocket: the job's live
// log as the event stream has it (?after=N skips what a client saw), then
// its result, after which the server closes. The first client to attach
// to an interactive job that has not ended holds its stdin: what it sends
// goes to the program; another that asks to write is refused (conflict)
// while it holds it, and ?watch=1 attaches read-only.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	id, q := r.PathValue("jobId"), r.URL.Query()
	watch, err := strconv.ParseBool(cmp.Or(q.Get("watch"), "false"))
	if err != nil {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeInvalid, "watch: want 1 or 0 (true or false)"))
		return
	}
	j, after, ok := s.streamStart(w, r, 0)
	if !ok {
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.fail(w, onpyrunner.Errorf(onpyrunner.CodeInvalid, "attach is a WebSocket: ask with Upgrade: websocket (or follow /api/jobs/%s/events)", id))
		return
	}
	c, err := websocket.Accept(w, r, nil) // a browser's page must be of this server (Origin)
	if err != nil {
		return // Accept answered
	}
	defer c.CloseNow()
	c.SetReadLimit(maxMessage)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	defer context.AfterFunc(s.drained, func() {
		c.Close(websocket.StatusGoingAway, "the server is shutting down; attach again")
	})()
	out := wsSink{c, ctx}
	con, _ := s.store.(onpyrunner.Console)
	writer := !watch && j.Interactive && !j.Status.Final() && con != nil
	if writer {
		token := newID()
		held, err := con.HoldWriter(ctx, id, token, writerHold)
		if err != nil {
			s.cfg.Logger.Warn("attach: hold a job's stdin", "job", id, "err", err)
			c.Close(websocket.StatusInternalError, "the job store does not answer; attach again")
			return
		}
		if !held {
			_ = out.fail(codeConflict, "another client holds this job's stdin; attach with ?watch=1 to watch")
			c.Close(websocket.StatusPolicyViolation, "another client holds this job's stdin")
			return
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			defer cancel()
			_ = con.ReleaseWriter(rctx, id, token)
		}()
		go s.renewWriter(ctx, con, id, token)
		if err := con.SendInput(ctx, id, onpyrunner.AttachEvent, "", s.cfg.MaxInputBytes); err != nil &&
			!onpyrunner.HasCode(err, onpyrunner.CodeNotFound) {
			s.cfg.Logger.Warn("attach: announce a client", "job", id, "err", err)
		}
	}
	if j.Status.Final() && !watch {
		_ = out.fail(codeEnded, "the job has ended (%s); it takes no input; its output and result follow", j.Status)
	}
	go func() {
		defer cancel()
		if err := s.stream(ctx, out, j, after); err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.Debug("attachment's stream ended", "job", id, "err", err)
				c.Close(websocket.StatusInternalError, "the job's stream broke off; attach again with ?after=")
			}
			return
		}
		c.Close(websocket.StatusNormalClosure, "the job ended")
	}()
	in := input{s: s, con: con, out: out, j: j, writer: writer, watch: watch}
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		in.take(ctx, typ, b)
	}
}

// renewWriter keeps token's hold on the job while ctx lasts.
func (s *Server) renewWriter(ctx context.Context, con onpyrunner.Console, id, token string) {
	t := time.NewTicker(writerHold / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := con.HoldWriter(ctx, id, token, writerHold); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("attach: renew a job's stdin hold", "job", id, "err", err)
			}
		}
	}
}

// input is what one attachment receives.
type input struct {
	s             *Server
	con           onpyrunner.Console
	out           wsSink
	j             *onpyrunner.Job
	writer, watch bool
}

// take handles one message from the client: input for the program when it
// is the writer, else an error message back.
func (in *input) take(ctx context.Context, typ websocket.MessageType, b []byte) {
	send := func(t onpyrunner.EventType, data string) {
		err := in.con.SendInput(ctx, in.j.ID, t, data, in.s.cfg.MaxInputBytes)
		switch {
		case err == nil:
		case onpyrunner.HasCode(err, onpyrunner.CodeNotFound):
			_ = in.out.fail(codeEnded, "the job has ended; it takes no more input")
		case onpyrunner.HasCode(err, onpyrunner.CodeTooLarge):
			_ = in.out.fail(onpyrunner.CodeTooLarge, "stdin: this job has been sent the server's cap of %d bytes; the rest is not sent", in.s.cfg.MaxInputBytes)
		default:
			in.s.cfg.Logger.Warn("attach: send input", "job", in.j.ID, "err", err)
			_ = in.out.fail(onpyrunner.CodeUnavailable, "the job store does not answer; send again")
		}
	}
	if typ != websocket.MessageText {
		_ = in.out.fail(onpyrunner.CodeInvalid, "send JSON text messages, not binary ones")
		return
	}
	if !utf8.Valid(b) {
		_ = in.out.fail(onpyrunner.CodeInvalid, "the message is not valid UTF-8")
		return
	}
	var m clientMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || dec.More() {
		_ = in.out.fail(onpyrunner.CodeInvalid, "malformed message: want {\"type\": \"stdin\", \"data\": \"...\"}, {\"type\": \"eof\"} or {\"type\": \"signal\", \"signal\": \"SIGINT\"}")
		return
	}
	switch m.Type {
	case "stdin", "eof", "signal":
	default:
		_ = in.out.fail(onpyrunner.CodeInvalid, "type: %q is not a message; want stdin, eof or signal", m.Type)
		return
	}
	switch {
	case !in.j.Interactive:
		_ = in.out.fail(codeNotInteractive, "this job is not interactive: its stdin was given whole at submission")
		return
	case in.watch:
		_ = in.out.fail(codeReadOnly, "attached with ?watch=1: this client only watches")
		return
	case !in.writer:
		_ = in.out.fail(codeEnded, "the job has ended; it takes no more input")
		return
	}
	switch m.Type {
	case "stdin":
		data, err := m.stdin()
		if err != nil {
			_ = in.out.fail(onpyrunner.CodeInvalid, "%v", err)
			return
		}
		send(onpyrunner.StdinEvent, data)
	case "eof":
		send(onpyrunner.EOFEvent, "")
	case "signal":
		if _, ok := onpyrunner.Signals[m.Signal]; !ok {
			_ = in.out.fail(onpyrunner.CodeInvalid, "signal: %q is not one a program may be sent; want one of %s",
				m.Signal, strings.Join(slices.Sorted(maps.Keys(onpyrunner.Signals)), ", "))
			return
		}
		send(onpyrunner.SignalEvent, m.Signal)
	}
}

// stdin is a stdin message's bytes: data, or dataBase64 decoded.
func (m clientMessage) stdin() (string, error) {
	switch {
	case m.Data != nil && m.DataBase64 != nil:
		return "", errors.New("stdin: send data or dataBase64, not both")
	case m.Data != nil:
		return *m.Data, nil
	case m.DataBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*m.DataBase64)
		if err != nil {
			return "", errors.New("dataBase64: not standard base64")
		}
		return string(b), nil
	}
	return "", errors.New("stdin: data or dataBase64 is required")
}
