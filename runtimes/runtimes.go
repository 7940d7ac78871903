// Package runtimes owns the Python runtimes a sandbox may run on: each a
// read-only root filesystem of its own, built from Debian packages, with a
// manifest that says what it holds. It builds them (Add), lists them (List)
// and removes them (Remove); package sandbox runs programs on them.
//
// A runtime lives in DIR/NAME: manifest.json and root/. A build happens in
// a hidden folder beside it (DIR/.NAME.build-*) that is renamed into place
// once complete, and a removal renames it hidden before it deletes it, so
// a half-built or half-removed runtime is never listed.
//
// A root holds the interpreter, its standard library and shared
// libraries, dash as /bin/sh, libc's C.UTF-8 locale (PyPy refuses to start
// without it) and the packages asked for, with their dependencies,
// extracted by mmdebstrap's extract variant: no maintainer script runs,
// and no package manager is installed. The build then takes away what a
// run has no use for or should not have: setuid and setgid bits, and
// documentation. /etc/passwd and /etc/group are not the root's: each run
// gets its own (package sandbox).
package runtimes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Manifest says what a runtime is and holds.
type Manifest struct {
	// Name is the runtime's name, as given to Add: python3.14, pypy3...
	Name string `json:"name"`
	// Language is what a job asks for: "python" or "pypy".
	Language string `json:"language"`
	// Implementation is sys.implementation.name: "cpython" or "pypy".
	Implementation string `json:"implementation"`
	// Version is the Python language version it implements, in full.
	Version string `json:"version"`
	// ImplementationVersion is the implementation's own version where it
	// differs from Version (PyPy's).
	ImplementationVersion string `json:"implementationVersion,omitempty"`
	// Interpreter is the interpreter's path in the root.
	Interpreter string `json:"interpreter"`
	// Suite and Mirror are where the packages came from.
	Suite  string `json:"suite"`
	Mirror string `json:"mirror"`
	// Packages are the Debian packages asked for beyond the interpreter.
	Packages []string `json:"packages"`
	// Preload are the modules that its interpreter imports at start-up.
	Preload []string `json:"preload,omitempty"`
	// Debs are every Debian package the root holds, with its exact version.
	Debs []Deb `json:"debs"`
	// SizeBytes is the root's size on disk.
	SizeBytes int64 `json:"sizeBytes"`
	// Built is when the build ended.
	Built time.Time `json:"built"`
	// BuildSeconds is how long the build took.
	BuildSeconds float64 `json:"buildSeconds"`
}

// Deb is one Debian package of a root.
type Deb struct {
	Package string `json:"package"`
	Version string `json:"version"`
}

// Installed is a runtime found in a runtimes folder.
type Installed struct {
	Manifest
	// Root is the root filesystem's path on this host.
	Root string `json:"root"`
}

// DefaultDir is where runtimes live unless told otherwise.
const DefaultDir = "/var/lib/onpyrunner/runtimes"

const manifestFile = "manifest.json"

// validName is a runtime's name: also a folder name.
var validName = regexp.MustCompile(`^[a-z][a-z0-9.+-]{0,63}$`)

// List returns the runtimes installed in dir, by name; a dir that does not
// exist holds none. A runtime whose manifest cannot be read, or whose root
// lacks its interpreter, is an error that names it.
func List(dir string) ([]Installed, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Installed
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		rt, err := load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, *rt)
	}
	slices.SortFunc(out, func(a, b Installed) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// load reads the runtime in folder d and checks that its root has its
// interpreter.
func load(d string) (*Installed, error) {
	b, err := os.ReadFile(filepath.Join(d, manifestFile))
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w", filepath.Base(d), err)
	}
	rt := &Installed{Root: filepath.Join(d, "root")}
	if err := json.Unmarshal(b, &rt.Manifest); err != nil {
		return nil, fmt.Errorf("runtime %s: manifest: %w", filepath.Base(d), err)
	}
	if rt.Name != filepath.Base(d) || rt.Language == "" || rt.Version == "" || !filepath.IsAbs(rt.Interpreter) {
		return nil, fmt.Errorf("runtime %s: manifest incomplete (name, language, version, interpreter)", filepath.Base(d))
	}
	if st, err := os.Stat(filepath.Join(rt.Root, rt.Interpreter)); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("runtime %s: its interpreter %s is missing from %s: rebuild it (onpyrunner runtime remove %s, then add)",
			rt.Name, rt.Interpreter, rt.Root, rt.Name)
	}
	return rt, nil
}

// Remove deletes the runtime called name from dir.
func Remove(dir, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%q is not a runtime name", name)
	}
	d := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(d, manifestFile)); err != nil {
		return fmt.Errorf("runtime %s is not installed in %s", name, dir)
	}
	gone := filepath.Join(dir, fmt.Sprintf(".%s.remove-%d", name, time.Now().UnixNano()))
	if err := os.Rename(d, gone); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}
