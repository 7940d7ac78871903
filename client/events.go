package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/onpyrunner/onpyrunner"
)

// Event is one Server-Sent Event of a job's stream.
type Event struct {
	// ID is the event's place in the job's live log; 0 for the events
	// replayed from a finished job and for the result.
	ID int
	// Type is "status", "stdout", "stderr", "test" or "result".
	Type string
	// Status is set for status events, Text for output, Test for a test's
	// end, Job for the result.
	Status onpyrunner.Status
	Text   string
	Test   *onpyrunner.TestResult
	Job    *onpyrunner.Job
}

// Events follows a job's event stream from after its event `after`,
// calling fn for each event, until the result event (returned as a job),
// fn's error, or ctx's end.
func (c *Client) Events(ctx context.Context, id string, after int, fn func(Event) error) (*onpyrunner.Job, error) {
	u := c.base + "/api/jobs/" + url.PathEscape(id) + "/events"
	if after > 0 {
		u += "?after=" + strconv.Itoa(after)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error onpyrunner.Error }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return nil, answerError(resp.StatusCode, e.Error)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var ev Event
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if ev.Type == "" {
				continue
			}
			if err := decode(&ev, data.String()); err != nil {
				return nil, err
			}
			if err := fn(ev); err != nil {
				return nil, err
			}
			if ev.Type == "result" {
				return ev.Job, nil
			}
			ev, data = Event{}, strings.Builder{}
		case field == "id":
			ev.ID, _ = strconv.Atoi(value)
		case field == "event":
			ev.Type = value
		case field == "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("the event stream of job %s ended before its result", id)
}

func decode(ev *Event, data string) error {
	var v struct {
		Status onpyrunner.Status `json:"status"`
		Text   string            `json:"text"`
	}
	switch ev.Type {
	case "result":
		ev.Job = new(onpyrunner.Job)
		return json.Unmarshal([]byte(data), ev.Job)
	case "test":
		ev.Test = new(onpyrunner.TestResult)
		return json.Unmarshal([]byte(data), ev.Test)
	default:
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return fmt.Errorf("event %q: %w", ev.Type, err)
		}
		ev.Status, ev.Text = v.Status, v.Text
	}
	return nil
}
