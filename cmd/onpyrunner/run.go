package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/judge"
	"github.com/onpyrunner/onpyrunner/sandbox"
)

func runCmd(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "[flags] FILE|-", stderr)
	d := onpyrunner.DefaultLimits
	language := fs.String("language", "python", "python or pypy (or a runtime's name)")
	version := fs.String("version", "", "the Python version to run on (3.14, 3): the newest installed match")
	rtDir := addRuntimesFlag(fs)
	input := fs.String("input", "", "file to feed as stdin, - for this stdin (default: this stdin when it is a pipe or a file)")
	cpu := fs.Duration("time", d.CPUTime(), "CPU time of all processes")
	wall := fs.Duration("wall-time", d.WallTime(), "wall-clock time")
	memory := newSize(d.MemoryMB, 1<<20)
	fs.Var(memory, "memory", "memory of all processes (whole MiB)")
	output := newSize(d.OutputKB, 1<<10)
	fs.Var(output, "output", "cap on stdout, and on stderr (whole KiB)")
	fileSize := newSize(d.FileSizeKB, 1<<10)
	fs.Var(fileSize, "file-size", "largest file the program may write (whole KiB)")
	processes := fs.Int64("processes", d.Processes, "processes and threads at once")
	openFiles := fs.Int64("open-files", d.OpenFiles, "open files per process")
	asJSON := fs.Bool("json", false, "print the result object as JSON (exit 0 whenever the run happened)")
	testDir := fs.String("tests", "", "folder of tests (N.in with N.out or N.ans): run the program once per test, print a line for each, exit 1 when any fails")
	compare := fs.String("compare", "lines", "with --tests: exact, lines, tokens or float")
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	code, ok := fileArg(fs, stdin, stderr)
	if !ok {
		return 2
	}
	spec := sandbox.Spec{
		Runtime: *language,
		Version: *version,
		Code:    code,
		Limits: onpyrunner.Limits{
			TimeMs: ms(*cpu), WallTimeMs: ms(*wall), MemoryMB: memory.units(),
			OutputKB: output.units(), Processes: *processes,
			FileSizeKB: fileSize.units(), OpenFiles: *openFiles,
		},
	}
	var tests []onpyrunner.Test
	if *testDir != "" {
		var err error
		if tests, err = readTests(*testDir); err != nil || !judge.Mode(*compare).Valid() {
			fmt.Fprintln(stderr, "onpyrunner run:", cmp.Or(err, fmt.Errorf("--compare %q: want exact, lines, tokens or float", *compare)))
			return 2
		}
	} else {
		in, done, err := inputArg(*input, fs.Arg(0), stdin)
		if err != nil {
			fmt.Fprintln(stderr, "onpyrunner run:", err)
			return 2
		}
		defer done()
		spec.Stdin = in
		if !*asJSON { // pass the output through as it comes
			spec.Stdout, spec.Stderr = stdout, stderr
		}
	}
	sb, err := sandbox.New(sandbox.Config{RuntimesDir: *rtDir})
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner run:", err)
		return 1
	}
	defer func() {
		if err := sb.Close(); err != nil {
			fmt.Fprintln(stderr, "onpyrunner run:", err)
		}
	}()
	if tests != nil { // one warm slot for them all, as a worker runs a job's tests
		lane := sb.NewLane()
		defer lane.Close()
		res, err := judge.Run(ctx, lane, nil, spec, onpyrunner.Judging{Tests: tests, Compare: *compare}, func(tr onpyrunner.TestResult) {
			if !*asJSON {
				printTest(stdout, tr)
			}
		})
		if err != nil {
			fmt.Fprintln(stderr, "onpyrunner run:", err)
			return 1
		}
		summary := stdout
		if *asJSON {
			printJSON(stdout, res)
			summary = stderr
		}
		return testsExit(summary, res)
	}
	res, err := sb.Run(ctx, spec)
	if err != nil {
		fmt.Fprintln(stderr, "onpyrunner run:", err)
		return 1
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	return finish(res, spec.Limits.WithDefaults(), stderr)
}

// finish says on stderr why a run was stopped, when a limit stopped it, and
// returns the program's exit code.
func finish(res *onpyrunner.Result, l onpyrunner.Limits, stderr io.Writer) int {
	if res.Verdict != onpyrunner.OK && res.Verdict != onpyrunner.RuntimeError {
		fmt.Fprintf(stderr, "onpyrunner: %s\n", describe(res, l))
	}
	return res.ExitCode
}

// printJSON prints v as indented JSON and returns the exit code 0.
func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

// readArg reads the program from a file, or from stdin for "-".
func readArg(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, 64<<20))
	}
	return os.ReadFile(name)
}

// describe says in words why a run was stopped.
func describe(r *onpyrunner.Result, l onpyrunner.Limits) string {
	switch r.Verdict {
	case onpyrunner.TimeLimit:
		return fmt.Sprintf("stopped: used more than %d ms of CPU time", l.TimeMs)
	case onpyrunner.WallTimeLimit:
		return fmt.Sprintf("stopped: ran longer than %d ms", l.WallTimeMs)
	case onpyrunner.MemoryLimit:
		return fmt.Sprintf("stopped: used more than %d MiB of memory", l.MemoryMB)
	case onpyrunner.OutputLimit:
		return fmt.Sprintf("stopped: wrote more than %d KiB of output", l.OutputKB)
	}
	return string(r.Verdict)
}
