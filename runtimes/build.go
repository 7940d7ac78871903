package runtimes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Options are what Add may be told beyond the runtime's name.
type Options struct {
	// Suite is the Debian suite to take packages from. Default: one that
	// has the interpreter (Suggest).
	Suite string
	// Packages are more Debian packages to install (python3-numpy...).
	Packages []string
	// Preload are modules that every start of the interpreter imports
	// before the program (numpy...), so that a warm run's import of them
	// costs nothing; see finish.go.
	Preload []string
	// Mirror is the Debian mirror. Default DefaultMirror.
	Mirror string
	// Log receives mmdebstrap's progress; nil discards it.
	Log io.Writer
}

// DefaultMirror is the Debian mirror builds use unless told otherwise.
const DefaultMirror = "http://deb.debian.org/debian"

// interpreter is what a runtime name asks for.
type interpreter struct {
	pkg, path, language, suite string
}

var pythonN = regexp.MustCompile(`^python3\.(\d{1,2})$`)

// suggest says what a runtime name means: the Debian package of its
// interpreter, the interpreter's path, its language and a suite that has
// it. Known names: python3.N (CPython 3.N), python3 (the suite's default
// CPython) and pypy3.
func suggest(name string) (interpreter, error) {
	switch m := pythonN.FindStringSubmatch(name); {
	case name == "pypy3":
		return interpreter{"pypy3", "/usr/bin/pypy3", "pypy", "unstable"}, nil
	case name == "python3":
		return interpreter{"python3", "/usr/bin/python3", "python", "unstable"}, nil
	case m != nil:
		suite := "unstable"
		if m[1] == "13" {
			suite = "testing"
		}
		return interpreter{name, "/usr/bin/" + name, "python", suite}, nil
	}
	return interpreter{}, fmt.Errorf("unknown runtime %q: known are python3.N (python3.14, python3.15...), python3 and pypy3", name)
}

// Add builds the runtime called name in dir from Debian packages, with
// mmdebstrap, and returns it. A build that fails says why in one line and
// leaves nothing behind. It needs root and the network.
func Add(ctx context.Context, dir, name string, o Options) (*Installed, error) {
	start := time.Now()
	it, err := suggest(name)
	if err != nil {
		return nil, err
	}
	if o.Suite == "" {
		o.Suite = it.suite
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror
	}
	if u, err := url.Parse(o.Mirror); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mirror %q: want an http or https URL", o.Mirror)
	}
	for _, p := range o.Packages {
		if !debName.MatchString(p) {
			return nil, fmt.Errorf("%q is not a Debian package name", p)
		}
	}
	for _, p := range o.Preload {
		if !moduleName.MatchString(p) {
			return nil, fmt.Errorf("%q is not a module name", p)
		}
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return nil, errors.New("building a runtime needs mmdebstrap (apt-get install mmdebstrap)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	final := filepath.Join(dir, name)
	if _, err := os.Stat(final); err == nil {
		return nil, fmt.Errorf("runtime %s is installed already (onpyrunner runtime remove %s first)", name, name)
	}
	tmp, err := os.MkdirTemp(dir, "."+name+".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // nothing left once renamed; everything on failure
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	root := filepath.Join(tmp, "root")
	debs, postinst, err := extract(ctx, root, it, o)
	if err != nil {
		return nil, err
	}
	if err := tidy(root); err != nil {
		return nil, fmt.Errorf("tidy the root: %w", err)
	}
	m := Manifest{Name: name, Language: it.language, Interpreter: it.path, Suite: o.Suite, Mirror: o.Mirror,
		Packages: append([]string{}, o.Packages...), Preload: o.Preload, Debs: debs}
	if err := probe(ctx, root, &m); err != nil {
		return nil, err
	}
	if err := finish(ctx, root, &m, postinst); err != nil {
		return nil, err
	}
	if m.SizeBytes, err = size(root); err != nil {
		return nil, err
	}
	m.Built, m.BuildSeconds = time.Now().UTC(), time.Since(start).Seconds()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, manifestFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	return load(final)
}

// debName is a Debian package name.
var debName = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`)

// debsFile lists, in the root while it is built, the packages that
// mmdebstrap downloaded (its extract hook writes it).
const debsFile = ".onpyrunner-debs"

// extract has mmdebstrap extract the interpreter's package, dash, libc's
// locales and the packages asked for, with their dependencies, into root,
// and returns the packages it installed and their postinst scripts.
func extract(ctx context.Context, root string, it interpreter, o Options) ([]Deb, string, error) {
	include := append([]string{it.pkg, "dash", "libc-bin"}, o.Packages...)
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--variant=extract", "--mode=root", "--format=directory",
		"--include="+strings.Join(include, ","),
		// Mirrors here serve snapshots whose Release files are past
		// their Valid-Until date.
		`--aptopt=Acquire::Check-Valid-Until "false"`,
		`--extract-hook=ls "$1"/var/cache/apt/archives > "$1"/`+debsFile,
		`--extract-hook=for d in "$1"/var/cache/apt/archives/*.deb; do dpkg-deb -I "$d" postinst 2>/dev/null; echo; done > "$1"/`+postinstFile,
		o.Suite, root, o.Mirror)
	var out bytes.Buffer
	w := io.Writer(&out)
	if o.Log != nil {
		w = io.MultiWriter(&out, o.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("mmdebstrap %s from %s %s: %s", strings.Join(include, ","), o.Mirror, o.Suite, why(out.String(), err))
	}
	b, err := os.ReadFile(filepath.Join(root, debsFile))
	if err != nil {
		return nil, "", fmt.Errorf("the packages installed: %w", err)
	}
	postinst, err := os.ReadFile(filepath.Join(root, postinstFile))
	if err != nil {
		return nil, "", fmt.Errorf("the packages' scripts: %w", err)
	}
	var debs []Deb
	for _, f := range strings.Fields(string(b)) {
		name, rest, ok := strings.Cut(strings.TrimSuffix(f, ".deb"), "_")
		version, _, ok2 := strings.Cut(rest, "_")
		if v, err := url.PathUnescape(version); ok && ok2 && err == nil {
			debs = append(debs, Deb{name, v})
		}
	}
	return debs, string(postinst), errors.Join(os.Remove(filepath.Join(root, debsFile)), os.Remove(filepath.Join(root, postinstFile)))
}

// why is the one line that says why mmdebstrap failed: apt's first error
// (the later ones say that the first failed).
func why(out string, err error) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "E: ") {
			return strings.TrimPrefix(l, "E: ")
		}
	}
	return err.Error()
}

// tidy makes the extracted tree a root: the merged /usr's links at the
// top, no setuid or setgid file, no documentation, no package manager's
// state, no /etc files that each run gets its own of.
func tidy(root string) error {
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		if _, err := os.Lstat(filepath.Join(root, d)); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Join(root, "usr", d)); err == nil {
				if err := os.Symlink("usr/"+d, filepath.Join(root, d)); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
		"var/cache", "var/lib/apt", "var/lib/dpkg", "var/log", "etc/apt", "etc/dpkg",
		// glibc maps its iconv cache shared; without it, it reads the
		// modules' list, and a run maps nothing shared at all.
		"usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache",
		"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/fstab"} {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			return err
		}
	}
	if ldconfig, err := exec.LookPath("ldconfig"); err == nil {
		// The dynamic linker's cache, made by the host's ldconfig for
		// the root (it reads nothing but the root's libraries).
		if out, err := exec.Command(ldconfig, "-r", root).CombinedOutput(); err != nil {
			return fmt.Errorf("ldconfig: %v: %s", err, bytes.TrimSpace(out))
		}
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if mode := info.Mode(); mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return os.Chmod(p, mode.Perm())
		}
		return nil
	})
}

// probeScript prints the implementation, the Python version and the
// implementation's own version (PyPy's).
const probeScript = `import sys
print(sys.implementation.name)
print("%d.%d.%d" % sys.version_info[:3])
v = getattr(sys, "pypy_version_info", None)
print("%d.%d.%d" % v[:3] if v else "")
`

// probe runs the new root's interpreter, chrooted there as nobody, to ask
// its versions.
func probe(ctx context.Context, root string, m *Manifest) error {
	out, err := chrooted(ctx, root, m, 65534, probeScript)
	if err != nil {
		return fmt.Errorf("the new root's %s does not start: %w", m.Interpreter, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 2 {
		return fmt.Errorf("the new root's %s says %q", m.Interpreter, out)
	}
	m.Implementation, m.Version = lines[0], lines[1]
	if len(lines) > 2 {
		m.ImplementationVersion = lines[2]
	}
	return nil
}

// size is the disk space of the files under root.
func size(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && d.Type().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n, err
}
