package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

// Frame is one message of an attached job.
type Frame = api.Frame

// Attachment is a WebSocket attached to a job: its output comes as Frames,
// and, for the writer of an interactive job, stdin, EOF and signals go to
// the program.
type Attachment struct {
	c *websocket.Conn
}

// Attach attaches to job id, read-only when watch is set. A refusal
// before the WebSocket opens (an unknown job) is an *Error.
func (c *Client) Attach(ctx context.Context, id string, watch bool) (*Attachment, error) {
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/jobs/" + id + "/attach"
	if watch {
		u += "?watch=1"
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var e struct{ Error onpyrunner.Error }
			if resp.Body != nil && json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error.Code != "" {
				return nil, answerError(resp.StatusCode, e.Error)
			}
		}
		return nil, err
	}
	conn.SetReadLimit(64 << 20) // a whole result comes in one message
	return &Attachment{c: conn}, nil
}

// Next returns the next message; after the result the server closes the
// connection, and Next returns an error.
func (a *Attachment) Next(ctx context.Context) (Frame, error) {
	var f Frame
	_, b, err := a.c.Read(ctx)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("attach: a message that is not JSON: %w", err)
	}
	return f, nil
}

// Send sends one raw message (the typed ones below are what the API takes).
func (a *Attachment) Send(ctx context.Context, msg []byte) error {
	return a.c.Write(ctx, websocket.MessageText, msg)
}

func (a *Attachment) send(ctx context.Context, m map[string]string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return a.Send(ctx, b)
}

// Stdin sends data to the program's stdin (in base64 where it is not
// UTF-8, which a JSON string cannot carry).
func (a *Attachment) Stdin(ctx context.Context, data string) error {
	if !utf8.ValidString(data) {
		return a.send(ctx, map[string]string{"type": "stdin", "dataBase64": base64.StdEncoding.EncodeToString([]byte(data))})
	}
	return a.send(ctx, map[string]string{"type": "stdin", "data": data})
}

// EOF closes the program's stdin.
func (a *Attachment) EOF(ctx context.Context) error {
	return a.send(ctx, map[string]string{"type": "eof"})
}

// Signal sends the program a signal by name ("SIGINT").
func (a *Attachment) Signal(ctx context.Context, name string) error {
	return a.send(ctx, map[string]string{"type": "signal", "signal": name})
}

// Close closes the attachment; the job goes on.
func (a *Attachment) Close() error { return a.c.Close(websocket.StatusNormalClosure, "") }
