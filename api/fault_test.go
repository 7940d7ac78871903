package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
)

// faultyStore injects faults that a real store cannot be made to show on
// demand: a panic and an unreachable store.
type faultyStore struct {
	onpyrunner.Store // nil: any other call would panic too
}

func (faultyStore) Get(context.Context, string) (*onpyrunner.Job, error) { panic("injected") }

func (faultyStore) Stats(context.Context) (onpyrunner.Stats, error) {
	return onpyrunner.Stats{}, errors.New("dial tcp 10.0.0.7:6379: connection refused")
}

func TestFaults(t *testing.T) {
	srv := httptest.NewServer(api.New(faultyStore{}, api.Config{}))
	defer srv.Close()
	for _, tc := range []struct {
		name, path string
		status     int
		code       onpyrunner.Code
	}{
		{"a panic is a 500", "/api/jobs/X", 500, onpyrunner.CodeInternal},
		{"the server lives on", "/api/jobs/Y", 500, onpyrunner.CodeInternal},
		{"an unreachable store is not ready", "/readyz", 503, onpyrunner.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Error onpyrunner.Error }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, e.Error, tc.status, tc.code)
			}
			for _, leak := range []string{"injected", "10.0.0.7", "panic"} {
				if strings.Contains(e.Error.Message, leak) {
					t.Errorf("message %q tells our internals", e.Error.Message)
				}
			}
		})
	}
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	}
}
