package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner/sandbox"
)

// versionCmd prints the build's version and the runtimes this machine has.
func versionCmd(ctx context.Context, args []string, env func(string) string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", stderr)
	if code, ok := parseArgs(fs, args, env, stderr); !ok {
		return code
	}
	fmt.Fprintln(stdout, "onpyrunner", buildVersion())
	names := make([]string, 0, len(sandbox.KnownRuntimes))
	for name := range sandbox.KnownRuntimes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		bin := sandbox.KnownRuntimes[name]
		fmt.Fprintf(stdout, "%-7s %s (%s)\n", name, pythonVersion(ctx, bin), bin)
	}
	return 0
}

// buildVersion is the module version and the commit it was built from.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build)"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+changes"
		}
	}
	if rev != "" {
		v += ", commit " + rev + dirty
	}
	return v + ", " + bi.GoVersion
}

// pythonVersion asks an interpreter for the Python version it implements.
func pythonVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-c", "import platform; print(platform.python_version())").Output()
	if err != nil {
		return "not installed"
	}
	return "Python " + strings.TrimSpace(string(out))
}
