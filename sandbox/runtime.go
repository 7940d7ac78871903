//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onpyrunner/onpyrunner/runtimes"
)

// Runtime is an installed Python interpreter that runs can use.
type Runtime struct {
	// Name names it: "python" or "pypy" for the host's own interpreters,
	// the runtime's name (python3.14, pypy3...) for one with a root of its
	// own.
	Name string `json:"name"`
	// Language is what a run asks for: "python" or "pypy".
	Language string `json:"language"`
	// Binary is the interpreter's path in the sandbox (and, for the host's
	// own, on the host).
	Binary string `json:"binary"`
	// Version is the Python language version it implements, e.g. "3.11.2".
	Version string `json:"version"`
	// Implementation is sys.implementation.name: "cpython" or "pypy";
	// ImplementationVersion is PyPy's own version.
	Implementation        string `json:"implementation"`
	ImplementationVersion string `json:"implementationVersion,omitempty"`
	// Packages are the Debian packages its root was built with beyond the
	// interpreter.
	Packages []string `json:"packages,omitempty"`
	// Preload are the modules its interpreter imports at start-up.
	Preload []string `json:"preload,omitempty"`
	// Root is its own root filesystem on the host; "" for the host's.
	Root string `json:"root,omitempty"`

	view view // what its sandbox root shows
}

// probeScript prints the version, the implementation and PyPy's version,
// the import path and every file imported at start-up (site,
// sitecustomize): all that the sandbox root must show.
const probeScript = `import sys
print(sys.version.split()[0])
v = getattr(sys, "pypy_version_info", None)
print("I", sys.implementation.name, "%d.%d.%d" % v[:3] if v else "")
for p in sys.path: print("P", p)
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f: print("F", f)
`

// probeRuntime asks the interpreter at binary what it needs. It runs the
// host's own trusted interpreter, once, outside any sandbox.
func probeRuntime(name, binary string, hostPackages bool) (*Runtime, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoRuntime, name, binary)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-c", probeScript)
	cmd.Env, cmd.Dir = []string{"LANG=C.UTF-8"}, "/"
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", binary, err)
	}
	rt := &Runtime{Name: name, Language: name, Binary: binary}
	var v viewBuilder
	if err := v.addELF(binary); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case rt.Version == "":
			rt.Version = line
		case strings.HasPrefix(line, "I "):
			f := strings.Fields(line)
			rt.Implementation = f[1]
			if len(f) > 2 {
				rt.ImplementationVersion = f[2]
			}
		case !hostPackages && sitePackages(line):
			// The host's installed packages are the host's: a run
			// sees the standard library alone, as in a runtime's root.
		case strings.HasPrefix(line, "P /"):
			if st, err := os.Stat(line[2:]); err == nil && st.IsDir() {
				v.add(line[2:])
			}
		case strings.HasPrefix(line, "F /"):
			v.add(line[2:])
		}
	}
	for _, p := range []string{"/etc/ld.so.cache", "/usr/share/zoneinfo"} {
		if _, err := os.Stat(p); err == nil {
			v.add(p)
		}
	}
	if _, err := os.Stat("/bin/sh"); err == nil { // so that os.system and shell=True work
		if err := v.addELF("/bin/sh"); err != nil {
			return nil, err
		}
	}
	rt.view = v.build()
	rt.view.Masks = setIDFiles(rt.view.Binds)
	return rt, nil
}

// sitePackages says whether a probe's path line is in the host's
// installed packages.
func sitePackages(line string) bool {
	return strings.Contains(line, "/dist-packages") || strings.Contains(line, "/site-packages")
}

// setIDFiles are the setuid and setgid files beneath the host's folders
// that a root binds: each run sees /dev/null in their place. (The binds
// are nosuid, and the run has no_new_privs, so the bits would do nothing;
// a run sees no such file all the same.)
func setIDFiles(binds []bind) []string {
	var out []string
	for _, b := range binds {
		if !b.Dir {
			continue
		}
		_ = filepath.WalkDir(b.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// rootRuntime is a runtime of its own root: its /usr, of its /etc what
// Python reads (etcShown), and the links at the top of the root (the
// merged /usr's /bin, /lib...).
func rootRuntime(r runtimes.Installed) (*Runtime, error) {
	rt := &Runtime{Name: r.Name, Language: r.Language, Binary: r.Interpreter, Version: r.Version, Root: r.Root,
		Implementation: r.Implementation, ImplementationVersion: r.ImplementationVersion, Packages: r.Packages, Preload: r.Preload}
	if st, err := os.Stat(filepath.Join(r.Root, r.Interpreter)); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s (%s in %s)", ErrNoRuntime, r.Name, r.Interpreter, r.Root)
	}
	rt.view.Binds = append(rt.view.Binds, bind{Src: filepath.Join(r.Root, "usr"), Path: "/usr", Dir: true})
	for _, top := range []string{"", "etc"} {
		entries, err := os.ReadDir(filepath.Join(r.Root, top))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			p, src := "/"+filepath.Join(top, e.Name()), filepath.Join(r.Root, top, e.Name())
			switch {
			case top == "etc" && !etcShown(e.Name()):
			case e.Type()&os.ModeSymlink != 0:
				target, err := os.Readlink(src)
				if err != nil {
					return nil, err
				}
				rt.view.Links = append(rt.view.Links, link{Path: p, Target: target})
			case top == "etc":
				rt.view.Binds = append(rt.view.Binds, bind{Src: src, Path: p, Dir: e.IsDir()})
			}
		}
	}
	return rt, nil
}

// etcShown says whether a run sees this entry of a runtime's /etc: the
// dynamic linker's cache, the tables that Python's mimetypes and socket
// modules read, and the interpreter's own folder (python3.14/,
// pypy3/...). Each run gets its own passwd, group and hosts; nothing
// else of a system's configuration is any program's business.
func etcShown(name string) bool {
	switch name {
	case "ld.so.cache", "mime.types", "protocols", "services":
		return true
	}
	return strings.HasPrefix(name, "python") || strings.HasPrefix(name, "pypy")
}

// view is what a sandbox root shows of the host: read-only bind mounts and
// the symbolic links that lead to them.
type view struct {
	Binds []bind   `json:"binds"`
	Links []link   `json:"links"`
	Masks []string `json:"masks,omitempty"` // files a run sees /dev/null in place of
}

type bind struct {
	Src  string `json:"src,omitempty"` // the host's path, when it is not Path
	Path string `json:"path"`
	Dir  bool   `json:"dir"`
}

type link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

type viewBuilder struct {
	binds map[string]bool // real path -> is a directory
	links map[string]string
}

// add makes path reachable: every symlink on the way is recorded and the
// real file or directory at the end is bound.
func (v *viewBuilder) add(path string) {
	if v.binds == nil {
		v.binds, v.links = map[string]bool{}, map[string]string{}
	}
	for hops := 0; hops < 40; hops++ {
		path = filepath.Clean(path)
		parts := strings.Split(path, "/")
		real := "/"
		resolved := true
		for i, part := range parts[1:] {
			next := filepath.Join(real, part)
			st, err := os.Lstat(next)
			if err != nil {
				return
			}
			if st.Mode()&os.ModeSymlink == 0 {
				real = next
				continue
			}
			target, err := os.Readlink(next)
			if err != nil {
				return
			}
			v.links[next] = target
			if !filepath.IsAbs(target) {
				target = filepath.Join(real, target)
			}
			path = filepath.Join(append([]string{target}, parts[i+2:]...)...)
			resolved = false
			break
		}
		if resolved {
			st, err := os.Stat(real)
			if err == nil {
				v.binds[real] = st.IsDir()
			}
			return
		}
	}
}

// addELF adds an executable, its program interpreter and the directories of
// the libraries it needs (they also hold what extension modules need).
func (v *viewBuilder) addELF(binary string) error {
	real, err := filepath.EvalSymlinks(binary)
	if err != nil {
		return err
	}
	v.add(binary)
	f, err := elf.Open(real)
	if err != nil {
		return fmt.Errorf("read %s: %w", real, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				v.add(string(bytes.TrimRight(b, "\x00")))
			}
		}
	}
	dirs := libDirs()
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		paths, _ := f.DynString(tag)
		for _, p := range paths {
			for _, d := range strings.Split(p, ":") {
				dirs = append([]string{strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(real))}, dirs...)
			}
		}
	}
	libs, _ := f.ImportedLibraries()
	for _, lib := range libs {
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
				v.add(d)
				break
			}
		}
	}
	return nil
}

// libDirs are where the dynamic linker looks by default.
func libDirs() []string {
	var out []string
	for _, d := range []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64"} {
		if ma, _ := filepath.Glob(d + "/*-linux-gnu*"); len(ma) > 0 {
			out = append(out, ma...)
		}
		out = append(out, d)
	}
	return out
}

// build drops binds nested in other binds and links inside binds (the
// bound directory shows them already) and orders both parents first.
func (v *viewBuilder) build() view {
	var out view
	paths := make([]string, 0, len(v.binds))
	for p := range v.binds {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if !v.inBind(out.Binds, p) {
			out.Binds = append(out.Binds, bind{Path: p, Dir: v.binds[p]})
		}
	}
	for p, t := range v.links {
		if !v.inBind(out.Binds, p) {
			out.Links = append(out.Links, link{Path: p, Target: t})
		}
	}
	slices.SortFunc(out.Links, func(a, b link) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func (v *viewBuilder) inBind(binds []bind, p string) bool {
	for _, b := range binds {
		if b.Dir && strings.HasPrefix(p, b.Path+"/") {
			return true
		}
	}
	return false
}
