package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/runtimes"
)

// TestServeRuntimes: a server given the built runtimes lists them and runs
// each job on the one its language and version select, embedded and
// distributed (the worker has the runtimes, the API process none).
func TestServeRuntimes(t *testing.T) {
	rts, err := runtimes.List(testenv.RuntimesDir())
	if err != nil {
		t.Fatal(err)
	}
	var py, pypy *runtimes.Installed
	for i, rt := range rts {
		switch rt.Language {
		case "python":
			py = &rts[i]
		case "pypy":
			pypy = &rts[i]
		}
	}
	testenv.Require(t, py != nil && pypy != nil, "CPython and PyPy runtimes in "+testenv.RuntimesDir()+" (onpyrunner runtime add python3.14; runtime add pypy3)")
	rdb := testenv.StartRedis(t)
	for name, srv := range map[string]*server{
		"embedded":    startServe(t, "--data", t.TempDir(), "--runtimes", testenv.RuntimesDir()),
		"distributed": startServe(t, "--redis", rdb.URL, "--slots", "0"),
	} {
		if name == "distributed" {
			startWorker(t, "--redis", rdb.URL, "--slots", "1", "--runtimes", testenv.RuntimesDir())
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			var list *api.RuntimesResponse
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if list, err = srv.client.Runtimes(ctx); err == nil && len(list.Runtimes) >= 2 {
					break
				}
			}
			if _, ok := onpyrunner.SelectRuntime(list.Runtimes, "python", py.Version); !ok {
				t.Fatalf("%s %s not listed: %+v", py.Name, py.Version, list.Runtimes)
			}
			code := "import sys, platform\nprint(sys.implementation.name, platform.python_version())"
			for _, c := range []struct {
				language, version string
				rt                *runtimes.Installed
			}{
				{"python", py.Version[:strings.LastIndex(py.Version, ".")], py},
				{"pypy", pypy.Version, pypy},
			} {
				j, err := srv.client.Submit(ctx, api.SubmitRequest{Code: &code, Language: c.language, Version: c.version}, time.Minute)
				if err == nil && !j.Status.Final() {
					j, err = srv.client.Wait(ctx, j.ID)
				}
				want := c.rt.Implementation + " " + c.rt.Version + "\n"
				if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != want || j.Version != c.rt.Version {
					t.Errorf("%s %s: %+v %v, want stdout %q", c.language, c.version, j, err, want)
				}
			}
		})
	}
}
