package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
)

func submitCmd(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("submit", "[flags] FILE|-", stderr)
	server := fs.String("server", "http://localhost:8080", "the server's URL")
	input := fs.String("input", "", "file to send as stdin, - for this stdin (default: this stdin when it is a pipe or a file)")
	language := fs.String("language", "", "python or pypy (default: the server's)")
	version := fs.String("version", "", "the Python version to run on (3.14, 3): the newest the server has that matches")
	wait := fs.Bool("wait", false, "stream the output as it comes and exit with the program's exit code")
	asJSON := fs.Bool("json", false, "print the job as JSON (with --wait: once it has ended)")
	testDir := fs.String("tests", "", "folder of tests (N.in with N.out or N.ans): the job runs the program once per test; a line for each as it ends; exit 1 when any fails")
	compare := fs.String("compare", "", "with --tests: exact, lines (the server's default), tokens or float")
	interactive := fs.Bool("interactive", false, "talk to the program: this stdin goes to it as it comes (typed or piped), Ctrl-C interrupts it, its output comes as written; implies --wait")
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	code, ok := fileArg(fs, stdin, stderr)
	if !ok {
		return 2
	}
	src := string(code)
	req := api.SubmitRequest{Code: &src, Language: *language, Version: *version}
	// Interactive, this stdin is the conversation, not an input to send
	// first (unless --input says so).
	var in io.Reader
	done, err := func() {}, error(nil)
	if !*interactive || *input != "" {
		in, done, err = inputArg(*input, fs.Arg(0), stdin)
	}
	if err == nil && in != nil {
		var b []byte
		b, err = io.ReadAll(in)
		req.Input = string(b)
	}
	done()
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner submit:", err)
		return 2
	}
	c := client.New(*server, nil)
	if *testDir != "" {
		tests, err := readTests(*testDir)
		if err != nil {
			fmt.Fprintln(stderr, "onpyrunner submit:", err)
			return 2
		}
		req.Tests, req.Compare, req.Input = tests, *compare, ""
		return judged(ctx, c, req, stdout, stderr, *asJSON)
	}
	if *interactive {
		req.Interactive = true
		return talk(ctx, c, req, stdin, stdout, stderr, *asJSON)
	}
	j, err := c.Submit(ctx, req, 0)
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner submit:", err)
		return 1
	}
	if !*wait {
		if *asJSON {
			return printJSON(stdout, j)
		}
		fmt.Fprintln(stdout, j.ID)
		return 0
	}
	j, err = c.Events(ctx, j.ID, 0, func(ev client.Event) error {
		if *asJSON {
			return nil
		}
		switch ev.Type {
		case "stdout":
			_, err := io.WriteString(stdout, ev.Text)
			return err
		case "stderr":
			_, err := io.WriteString(stderr, ev.Text)
			return err
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner submit:", err)
		return 1
	}
	if *asJSON {
		return printJSON(stdout, j)
	}
	return exitCode(j, stderr)
}

// exitCode says how a waited-for job ended and returns the exit code: the
// program's, or 1 when it did not complete.
func exitCode(j *onpyrunner.Job, stderr io.Writer) int {
	switch j.Status {
	case onpyrunner.Failed:
		fmt.Fprintln(stderr, "onpyrunner submit: the job failed:", j.Error)
		return 1
	case onpyrunner.Canceled:
		fmt.Fprintln(stderr, "onpyrunner submit: the job was canceled")
		return 1
	}
	return finish(j.Result, j.Limits, stderr)
}

// talk submits req as an interactive job and attaches to it: stdin goes to
// the program as it comes, its end as EOF, this process's Ctrl-C as the
// program's SIGINT; the output comes as written. It returns as exitCode.
func talk(ctx context.Context, c *client.Client, req api.SubmitRequest, stdin io.Reader, stdout, stderr io.Writer, asJSON bool) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "onpyrunner submit:", err)
		return 1
	}
	j, err := c.Submit(ctx, req, 0)
	if err != nil {
		return fail(err)
	}
	a, err := c.Attach(ctx, j.ID, false)
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				_ = a.Signal(ctx, "SIGINT")
			}
		}
	}()
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(b)
			if n > 0 && a.Stdin(ctx, string(b[:n])) != nil {
				return
			}
			if err != nil {
				_ = a.EOF(ctx)
				return
			}
		}
	}()
	var end *onpyrunner.Job
	for end == nil {
		f, err := a.Next(ctx)
		if err != nil {
			return fail(fmt.Errorf("the connection ended before the job: %w", err))
		}
		switch f.Type {
		case "stdout":
			if !asJSON {
				io.WriteString(stdout, f.Data)
			}
		case "stderr":
			if !asJSON {
				io.WriteString(stderr, f.Data)
			}
		case "error":
			fmt.Fprintln(stderr, "onpyrunner submit:", f.Error.Message)
		case "result":
			end = f.Job
		}
	}
	if asJSON {
		return printJSON(stdout, end)
	}
	return exitCode(end, stderr)
}

// judged submits a job with tests, prints a line for each test as it ends
// and returns 0 when all were accepted, else 1.
func judged(ctx context.Context, c *client.Client, req api.SubmitRequest, stdout, stderr io.Writer, asJSON bool) int {
	j, err := c.Submit(ctx, req, 0)
	if err == nil {
		j, err = c.Events(ctx, j.ID, 0, func(ev client.Event) error {
			if ev.Type == "test" && !asJSON {
				printTest(stdout, *ev.Test)
			}
			return nil
		})
	}
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner submit:", err)
		return 1
	}
	if j.Result == nil {
		return exitCode(j, stderr)
	}
	summary := stdout
	if asJSON {
		printJSON(stdout, j)
		summary = stderr
	}
	return testsExit(summary, j.Result)
}
