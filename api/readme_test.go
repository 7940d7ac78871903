package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/metrics"
)

// readmeExample is one curl line of the README's API section, with the
// status its comment names, if any.
type readmeExample struct {
	method, path, body string
	status             int
}

var (
	curlLine   = regexp.MustCompile(`^\s*curl -s\S* (?:-X(\w+) )?'?localhost:8080(\S*?)'?(?: -d '(.*))?(?:\s+#.*)?$`)
	statusWord = regexp.MustCompile(`: (\d{3}) `)
)

// readmeExamples reads the README's API examples; a body may go on over
// the next lines until its closing quote.
func readmeExamples(t *testing.T) []readmeExample {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## The HTTP API")
	end := strings.Index(text[start+1:], "\n## ")
	lines := strings.Split(text[start:start+1+end], "\n")
	var out []readmeExample
	status := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if c := strings.TrimSpace(line); strings.HasPrefix(c, "#") {
			if m := statusWord.FindStringSubmatch(c); m != nil {
				status, _ = strconv.Atoi(m[1])
			}
			continue
		}
		m := curlLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ex := readmeExample{method: m[1], path: m[2], body: m[3], status: status}
		for ex.body != "" && !strings.HasSuffix(ex.body, "'") && i+1 < len(lines) {
			i++
			ex.body += " " + strings.TrimSpace(lines[i])
		}
		ex.body = strings.TrimSuffix(ex.body, "'")
		if ex.method == "" {
			ex.method = "GET"
		}
		out = append(out, ex)
		status = 0
	}
	if len(out) < 8 {
		t.Fatalf("only %d examples found in the README's API section", len(out))
	}
	return out
}

// TestREADMEExamples runs the README's API examples against a server with
// a fake runner: each answers the status its comment names, or a 2xx.
func TestREADMEExamples(t *testing.T) {
	var s *testServer
	m := metrics.New(func(ctx context.Context) (onpyrunner.Stats, error) { return s.Store.Stats(ctx) })
	s = newServer(t, serverOpts{api: api.Config{Metrics: m.Handler()}, fake: true})
	id, batch := "", ""
	for _, ex := range readmeExamples(t) {
		path := strings.NewReplacer("$ID", id, "$BATCH", batch).Replace(ex.path)
		req, err := http.NewRequestWithContext(t.Context(), ex.method, s.URL+path, strings.NewReader(ex.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case ex.status != 0 && resp.StatusCode != ex.status:
			t.Errorf("%s %s: %d, the README says %d: %.200s", ex.method, path, resp.StatusCode, ex.status, b)
		case ex.status == 0 && resp.StatusCode/100 != 2:
			t.Errorf("%s %s: %d: %.200s", ex.method, path, resp.StatusCode, b)
		}
		var j struct{ JobID, BatchID string }
		if ex.method == "POST" && json.Unmarshal(b, &j) == nil {
			id, batch = cmp.Or(id, j.JobID), cmp.Or(batch, j.BatchID)
		}
	}
	if id == "" {
		t.Error("no example submitted a job")
	}
}
