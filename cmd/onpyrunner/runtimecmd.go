package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/onpyrunner/onpyrunner/runtimes"
)

// addRuntimesFlag adds --runtimes, the folder of the runtimes.
func addRuntimesFlag(fs *flag.FlagSet) *string {
	return fs.String("runtimes", runtimes.DefaultDir, "folder of the runtimes built with 'onpyrunner runtime add'")
}

func runtimeCmd(ctx context.Context, args []string, env func(string) string, _ io.Reader, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: onpyrunner runtime add NAME [--suite S] [--packages p1,p2] [--preload m1,m2] [--mirror URL] [--runtimes DIR]\n"+
			"       onpyrunner runtime list [--json] [--runtimes DIR]\n"+
			"       onpyrunner runtime remove NAME [--runtimes DIR]\n\n"+
			"NAME: python3.N (python3.14, python3.15...), python3 or pypy3. Building needs root, mmdebstrap and the network.")
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	fs := newFlagSet("runtime "+args[0], "[flags] [NAME]", stderr)
	dir := addRuntimesFlag(fs)
	var suite, packages, preload, mirror *string
	var asJSON *bool
	switch args[0] {
	case "add":
		suite = fs.String("suite", "", "Debian suite (default: one that has the interpreter: unstable, testing for python3.13)")
		packages = fs.String("packages", "", "more Debian packages, comma-separated (python3-numpy,...)")
		preload = fs.String("preload", "", "modules every run imports before the program, comma-separated (numpy,...): a warm run's import of them costs nothing")
		mirror = fs.String("mirror", runtimes.DefaultMirror, "Debian mirror")
	case "list":
		asJSON = fs.Bool("json", false, "print the runtimes as JSON")
	case "remove":
	default:
		return usage()
	}
	rest := args[1:]
	var named []string // NAME may come before the flags, as usage writes it
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		named, rest = rest[:1], rest[1:]
	}
	if code, ok := parseArgs(fs, rest, env, stderr); !ok {
		return code
	}
	named = append(named, fs.Args()...)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "onpyrunner runtime %s: %v\n", args[0], err)
		return 1
	}
	switch args[0] {
	case "add", "remove":
		if len(named) != 1 {
			return usage()
		}
		if args[0] == "remove" {
			if err := runtimes.Remove(*dir, named[0]); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "removed %s\n", named[0])
			return 0
		}
		rt, err := runtimes.Add(ctx, *dir, named[0], runtimes.Options{Suite: *suite, Packages: commaList(*packages),
			Preload: commaList(*preload), Mirror: *mirror, Log: stderr})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "built %s: %s %s in %s (%s, %.0f s)\n", rt.Name, rt.Implementation, fullVersion(rt.Manifest), rt.Root,
			humanize.IBytes(uint64(rt.SizeBytes)), rt.BuildSeconds)
		return 0
	}
	if len(named) != 0 {
		return usage()
	}
	rts, err := runtimes.List(*dir)
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		if rts == nil {
			rts = []runtimes.Installed{}
		}
		b, _ := json.MarshalIndent(rts, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLANGUAGE\tVERSION\tPACKAGES\tPRELOAD\tSIZE\tROOT")
	for _, rt := range rts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rt.Name, rt.Language, fullVersion(rt.Manifest),
			strings.Join(rt.Packages, ","), strings.Join(rt.Preload, ","), humanize.IBytes(uint64(rt.SizeBytes)), rt.Root)
	}
	return map[bool]int{true: 0, false: 1}[tw.Flush() == nil]
}

// commaList splits a comma-separated flag; "" is none.
func commaList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// fullVersion is a runtime's version as people name it: PyPy's own with
// the Python version it implements.
func fullVersion(m runtimes.Manifest) string {
	if m.ImplementationVersion != "" {
		return fmt.Sprintf("%s (Python %s)", m.ImplementationVersion, m.Version)
	}
	return m.Version
}
