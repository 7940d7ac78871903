package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

// TestVersionSelection: a submit's version selects the newest installed
// match of its language, the job shows the full version, and one that is
// not installed is a 400 naming what is.
func TestVersionSelection(t *testing.T) {
	rts := []onpyrunner.Runtime{{Language: "python", Version: "3.11.2", Implementation: "cpython"},
		{Language: "python", Version: "3.14.10", Implementation: "cpython", Packages: []string{"python3-numpy"}},
		{Language: "pypy", Version: "3.11.17", Implementation: "pypy", ImplementationVersion: "8.0.1"}}
	s := newServer(t, serverOpts{api: api.Config{Runtimes: rts}, fake: true})
	for _, c := range []struct{ body, version string }{
		{`{"code": "1"}`, "3.14.10"},
		{`{"code": "1", "version": "3"}`, "3.14.10"},
		{`{"code": "1", "version": "3.11"}`, "3.11.2"},
		{`{"code": "1", "version": "3.14.10"}`, "3.14.10"},
		{`{"code": "1", "language": "pypy", "version": "3.11"}`, "3.11.17"},
	} {
		var j onpyrunner.Job
		status := post(t, s.URL+"/api/jobs", c.body, &j)
		if status != 202 || j.Version != c.version {
			t.Errorf("%s: %d version %q, want 202 %q", c.body, status, j.Version, c.version)
		}
	}
	for _, c := range []struct{ body, words string }{
		{`{"code": "1", "version": "3.12"}`, "no python 3.12 is installed here; installed: python 3.14.10, python 3.11.2, pypy 3.11.17"},
		{`{"code": "1", "version": "3.1"}`, "no python 3.1 is installed"},
		{`{"code": "1", "language": "pypy", "version": "3.14"}`, "no pypy 3.14"},
		{`{"code": "1", "version": "latest"}`, `"latest" is not a version`},
		{`{"code": "1", "version": 3.14}`, "version"},
	} {
		var e struct{ Error onpyrunner.Error }
		if status := post(t, s.URL+"/api/jobs", c.body, &e); status != 400 || !strings.Contains(e.Error.Message, c.words) {
			t.Errorf("%s: %d %q, want 400 mentioning %q", c.body, status, e.Error.Message, c.words)
		}
	}
	var list api.RuntimesResponse
	resp, err := http.Get(s.URL + "/api/runtimes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Runtimes) != 3 || list.Runtimes[0].Version != "3.14.10" || !list.Runtimes[0].Default || list.Runtimes[1].Default ||
		!list.Runtimes[2].Default || list.Runtimes[2].ImplementationVersion != "8.0.1" || list.Runtimes[0].Packages[0] != "python3-numpy" {
		t.Errorf("runtimes: %+v", list.Runtimes)
	}
}

// post sends body and decodes the answer into v.
func post(t *testing.T, url, body string, v any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}
