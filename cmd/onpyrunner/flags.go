package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// newFlagSet makes a subcommand's flag set whose usage (-h) goes to
// stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: onpyrunner %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses a subcommand's flags. When the command cannot go on it
// returns the exit code (0 after -h, which prints the usage; 2 for a bad
// flag, said in one line on stderr) and false.
func parseArgs(fs *flag.FlagSet, args []string, env func(string) string, stderr io.Writer) (int, bool) {
	err := parse(fs, args, env)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return 0, false
	case err != nil:
		fmt.Fprintf(stderr, "onpyrunner %s: %v (see onpyrunner %s -h)\n", fs.Name(), err, fs.Name())
		return 2, false
	}
	return 0, true
}

// fileArg reads the program named by the one argument (FILE, or - for
// stdin); when it cannot, it says why on stderr and returns false.
func fileArg(fs *flag.FlagSet, stdin io.Reader, stderr io.Writer) ([]byte, bool) {
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, false
	}
	code, err := readArg(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "onpyrunner %s: %v\n", fs.Name(), err)
		return nil, false
	}
	return code, true
}

// inputArg is the program's stdin: the --input file (input), or for "-"
// this process's stdin; with no --input, this process's stdin when it is a
// pipe or a file (`run sol.py < in.txt`, `cat in.txt | run sol.py`), but
// not a terminal, nor when stdin gave the program itself (FILE -). Nil
// means none. Close the file it opened with done.
func inputArg(input, file string, stdin io.Reader) (r io.Reader, done func(), err error) {
	done = func() {}
	switch {
	case input == "-" && file == "-":
		return nil, done, errors.New("stdin cannot be both the program (-) and its input (--input -)")
	case input == "-":
		return stdin, done, nil
	case input != "":
		f, err := os.Open(input)
		if err != nil {
			return nil, done, err
		}
		return f, func() { f.Close() }, nil
	case file == "-":
		return nil, done, nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice != 0 {
			return nil, done, nil // a terminal (or /dev/null): no input
		}
	}
	return stdin, done, nil
}

// parse parses args, then sets every flag not given on the command line
// from ONPYRUNNER_<FLAG> when that is set.
func parse(fs *flag.FlagSet, args []string, env func(string) string) error {
	// The flag package would print the error and the whole usage; the
	// caller says it once.
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		key := "ONPYRUNNER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := env(key); v != "" && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v; want a value like -%s's default, %s", key, v, e, f.Name, f.DefValue)
			}
		}
	})
	return err
}

// sizeFlag is a size such as 128MiB, 64KiB or 1000000 (bytes), of at
// least one unit: the unit the setting counts in (a memory limit counts
// MiB). A size that is not a whole number of units is refused, never
// rounded (512KiB of memory is not 0 MiB).
type sizeFlag struct {
	bytes, unit int64
}

// newSize is a sizeFlag of n units of unit bytes.
func newSize(n, unit int64) *sizeFlag { return &sizeFlag{n * unit, unit} }

func (f *sizeFlag) String() string {
	if f == nil || f.unit == 0 {
		return "0"
	}
	return humanize.IBytes(uint64(f.bytes))
}

func (f *sizeFlag) Set(s string) error {
	v, err := humanize.ParseBytes(s)
	if err != nil {
		return errors.New("want a size such as 128MiB, 64KiB or 4096")
	}
	if int64(v) < f.unit || int64(v)%f.unit != 0 {
		return fmt.Errorf("%s is not a whole number of %s", s, map[int64]string{1: "bytes", 1 << 10: "KiB", 1 << 20: "MiB"}[f.unit])
	}
	f.bytes = int64(v)
	return nil
}

// units is the size in its units.
func (f *sizeFlag) units() int64 {
	if f == nil {
		return 0 // a flag this command does not have
	}
	return f.bytes / f.unit
}

// ms is a duration flag in whole milliseconds.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// prefixesFlag is a comma-separated list of CIDRs (or single addresses).
type prefixesFlag []netip.Prefix

func (f *prefixesFlag) String() string {
	var s []string
	for _, p := range *f {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (f *prefixesFlag) Set(v string) error {
	*f = nil
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		*f = append(*f, p.Masked())
	}
	return nil
}
