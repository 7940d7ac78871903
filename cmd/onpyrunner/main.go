// Command onpyrunner runs untrusted Python in a sandbox: once from the
// command line (run), or as a service (serve, worker, submit, bench; see
// the README).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/onpyrunner/onpyrunner/sandbox" // its init turns this binary into the sandbox init when re-executed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = []command{
	{"run", "run one program in the sandbox on this machine", runCmd},
	{"serve", "serve the HTTP API and run jobs (embedded store, or --redis)", serveCmd},
	{"worker", "run jobs from a shared Redis (distributed mode)", workerCmd},
	{"submit", "submit a program to a server", submitCmd},
	{"bench", "load a server with jobs and compare with bare python3", benchCmd},
	{"runtime", "build, list and remove runtimes (add NAME, list, remove NAME)", runtimeCmd},
	{"version", "print the build's version and the runtimes found", versionCmd},
}

// run dispatches to a subcommand and returns the process's exit code.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env, stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "onpyrunner: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: onpyrunner <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'onpyrunner <command> -h' for a command's flags. Every flag falls back to\nthe environment variable ONPYRUNNER_<FLAG> (e.g. ONPYRUNNER_WALL_TIME).")
}
