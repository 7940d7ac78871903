package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/loadgen"
)

func benchCmd(ctx context.Context, args []string, env func(string) string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", "[flags]", stderr)
	server := fs.String("server", "http://localhost:8080", "the server's URL")
	conc := fs.Int("c", 8, "clients at once")
	dur := fs.Duration("d", 10*time.Second, "how long to run")
	code := fs.String("code", "print(1)", "the program each job runs")
	baseline := fs.String("baseline", "/usr/bin/python3", "also run the program with this python, back to back with the same concurrency, and compare (empty: skip)")
	round := fs.Duration("round", time.Second, "with -baseline, alternate server and baseline runs of this length, so that both see the host's drifting speed alike")
	language := fs.String("language", "", "python or pypy (default: the server's)")
	version := fs.String("version", "", "the Python version to run on (3.14, 3)")
	baselineRoot := fs.String("baseline-root", "", "run -baseline chrooted in this root (a runtime's, to compare it with itself started bare)")
	waiters := fs.Int("waiters", 0, "instead, measure a normal request (GET of a finished job) with nobody waiting and then with this many clients in ?wait= long-polls")
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	c := client.New(*server, hc)
	if _, err := c.Runtimes(ctx); err != nil {
		fmt.Fprintln(stderr, "onpyrunner bench: the server does not answer:", err)
		return 1
	}
	if *waiters > 0 {
		return benchWaiters(ctx, c, *server, *waiters, *conc, *dur, stdout)
	}
	fmt.Fprintf(stdout, "submit-and-wait of %q (%s %s), %d clients, %s\n", *code, *language, *version, *conc, *dur)
	var want atomic.Pointer[string] // the server's output, which bare runs must match (clients run at once)
	viaServer := func(ctx context.Context) error {
		j, err := c.Submit(ctx, api.SubmitRequest{Code: code, Language: *language, Version: *version}, time.Minute)
		if err == nil && !j.Status.Final() {
			j, err = c.Wait(ctx, j.ID)
		}
		switch {
		case err != nil:
			return err
		case j.Status != onpyrunner.Completed:
			return fmt.Errorf("job %s ended %s: %s", j.ID, j.Status, j.Error)
		case j.Result.Verdict != onpyrunner.OK:
			return fmt.Errorf("job %s: verdict %s", j.ID, j.Result.Verdict)
		}
		want.Store(&j.Result.Stdout)
		return nil
	}
	viaBare := func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, *baseline, "-c", *code)
		if *baselineRoot != "" {
			cmd.Dir, cmd.Env = "/", []string{"LANG=C.UTF-8"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: *baselineRoot}
		}
		out, err := cmd.Output()
		if w := want.Load(); err == nil && w != nil && string(out) != *w {
			return fmt.Errorf("bare output %q, the server's %q", out, *w)
		}
		return err
	}
	var srv, bare loadgen.Report
	each := *round // one round of each, alternately
	if *baseline == "" || each <= 0 {
		each = *dur
	}
	for left := *dur; left > 0 && ctx.Err() == nil; left -= each {
		srv.Add(loadgen.Run(ctx, *conc, min(each, left), viaServer))
		if *baseline != "" {
			bare.Add(loadgen.Run(ctx, *conc, min(each, left), viaBare))
		}
	}
	fmt.Fprintf(stdout, "server:        %s\n", srv)
	if srv.FirstErr != nil {
		fmt.Fprintf(stdout, "first error:   %v\n", srv.FirstErr)
	}
	if *baseline == "" {
		return 0
	}
	fmt.Fprintf(stdout, "bare %s: %s\n", *baseline, bare)
	if bare.Rate() > 0 {
		fmt.Fprintf(stdout, "ratio:         %.2f× the bare rate\n", srv.Rate()/bare.Rate())
	}
	return 0
}
