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

// TestRoutingByRuntime: of two workers, only one has the built runtimes;
// each job of one of them runs on that worker, jobs of the host's python
// on either, and a job for a runtime no worker has is refused at submit.
func TestRoutingByRuntime(t *testing.T) {
	rts, err := runtimes.List(testenv.RuntimesDir())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Require(t, len(rts) > 0, "a runtime in "+testenv.RuntimesDir()+" (onpyrunner runtime add python3.14)")
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	with := startWorker(t, "--redis", rdb.URL, "--slots", "1", "--runtimes", testenv.RuntimesDir())
	without := startWorker(t, "--redis", rdb.URL, "--slots", "1", "--runtimes", t.TempDir())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		list, err := apiSrv.client.Runtimes(ctx)
		if _, ok := onpyrunner.SelectRuntime(list.Runtimes, rts[0].Language, rts[0].Version); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listed: %+v %v", rts[0].Name, list, err)
		}
	}
	code := "import platform; print(platform.python_version())"
	var ids []string
	for range 6 {
		j, err := apiSrv.client.Submit(ctx, api.SubmitRequest{Code: &code, Language: rts[0].Language, Version: rts[0].Version}, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		j, err := apiSrv.client.Wait(ctx, id)
		if err != nil || j.Status != onpyrunner.Completed || j.Result.Stdout != rts[0].Version+"\n" {
			t.Fatalf("job %s: %+v %v", id, j, err)
		}
		// The worker logs a job's end just after storing it.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(with.logText(), id) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(with.logText(), id) || strings.Contains(without.logText(), id) {
			t.Errorf("job %s of %s did not run on the worker that has it", id, rts[0].Name)
		}
	}
	_, err = apiSrv.client.Submit(ctx, api.SubmitRequest{Code: &code, Version: "3.99"}, 0)
	if err == nil || !strings.Contains(err.Error(), "3.99") {
		t.Errorf("a job for a runtime no worker has: %v", err)
	}
}
