package runtimes_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/runtimes"
)

// needBuild skips where a runtime cannot be built (CI has all of it).
func needBuild(t *testing.T) {
	testenv.Root(t)
	_, err := exec.LookPath("mmdebstrap")
	testenv.Require(t, err == nil, "needs mmdebstrap (apt-get install mmdebstrap)")
}

// TestAddListRemove builds a CPython runtime from Debian's packages and
// checks what its root holds and what its manifest says.
func TestAddListRemove(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	rt, err := runtimes.Add(context.Background(), dir, "python3.14", runtimes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Language != "python" || rt.Implementation != "cpython" || !strings.HasPrefix(rt.Version, "3.14.") || rt.Interpreter != "/usr/bin/python3.14" {
		t.Errorf("manifest: %+v", rt.Manifest)
	}
	i := slices.IndexFunc(rt.Debs, func(d runtimes.Deb) bool { return d.Package == "python3.14-minimal" })
	if i < 0 || !strings.HasPrefix(rt.Debs[i].Version, rt.Version) {
		t.Errorf("debs lack python3.14-minimal of version %s: %v", rt.Version, rt.Debs)
	}
	// What the manifest lists was installed: each package's files are in
	// the root, as its version's Python says.
	out, err := exec.Command("chroot", rt.Root, "/bin/sh", "-c", "/usr/bin/python3.14 -c 'import platform; print(platform.python_version())'").Output()
	if err != nil || strings.TrimSpace(string(out)) != rt.Version {
		t.Errorf("the root's python says %q (%v), the manifest %s", out, err, rt.Version)
	}
	var setid []string
	_ = filepath.WalkDir(rt.Root, func(p string, d fs.DirEntry, err error) error {
		if info, e := d.Info(); err == nil && e == nil && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			setid = append(setid, p)
		}
		return err
	})
	if len(setid) > 0 {
		t.Errorf("setuid or setgid files: %v", setid)
	}
	for _, gone := range []string{"usr/bin/apt-get", "usr/bin/dpkg", "etc/passwd", "usr/share/doc"} {
		if _, err := os.Lstat(filepath.Join(rt.Root, gone)); err == nil {
			t.Errorf("the root holds %s", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(rt.Root, "bin/sh")); err != nil {
		t.Errorf("no /bin/sh: %v", err)
	}
	// Byte code, as Debian's scripts would have compiled it.
	if pyc, _ := filepath.Glob(filepath.Join(rt.Root, "usr/lib/python3.14/json/__pycache__/__init__.cpython-314.pyc")); len(pyc) != 1 {
		t.Errorf("no byte code for json")
	}

	list, err := runtimes.List(dir)
	if err != nil || len(list) != 1 || list[0].Name != "python3.14" || list[0].SizeBytes < 10<<20 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := runtimes.Add(context.Background(), dir, "python3.14", runtimes.Options{}); err == nil || !strings.Contains(err.Error(), "installed already") {
		t.Errorf("a second build of the same name: %v", err)
	}

	// A root that lost its interpreter is refused with its name.
	interp := filepath.Join(rt.Root, rt.Interpreter)
	if err := os.Rename(interp, interp+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := runtimes.List(dir); err == nil || !strings.Contains(err.Error(), "python3.14") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("list with the interpreter gone: %v", err)
	}
	if err := runtimes.Remove(dir, "python3.14"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left after remove: %v", left)
	}
}

// TestFailedBuildsLeaveNothing: each failure says why in one line, and
// the runtimes folder is as it was.
func TestFailedBuildsLeaveNothing(t *testing.T) {
	needBuild(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		o    runtimes.Options
		why  string
	}{
		{"python3.14", runtimes.Options{Packages: []string{"no-such-package-onpyrunner"}}, "Unable to locate package no-such-package-onpyrunner"},
		{"python3.14", runtimes.Options{Mirror: "http://127.0.0.1:9/debian"}, "127.0.0.1:9"},
		{"python3.14", runtimes.Options{Suite: "no-such-suite"}, "no-such-suite"},
		{"python3.99", runtimes.Options{}, "python3.99"},
		{"cobol", runtimes.Options{}, "unknown runtime"},
		{"python3.14", runtimes.Options{Packages: []string{"bad name"}}, "not a Debian package name"},
		{"python3.14", runtimes.Options{Preload: []string{"no_such_module_onpyrunner"}}, "No module named 'no_such_module_onpyrunner'"},
		{"python3.14", runtimes.Options{Preload: []string{"os; import x"}}, "not a module name"},
	} {
		_, err := runtimes.Add(context.Background(), dir, c.name, c.o)
		if err == nil || !strings.Contains(err.Error(), c.why) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %+v: %v, want one line mentioning %q", c.name, c.o, err, c.why)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s %+v left %v", c.name, c.o, left)
		}
	}
}

// TestPreloadNumpy builds a runtime with numpy, preloaded: the links that
// its BLAS and LAPACK packages' scripts make are there, numpy works as an
// unprivileged user, its modules are byte-compiled, and start-up imports it.
func TestPreloadNumpy(t *testing.T) {
	needBuild(t)
	rt, err := runtimes.Add(context.Background(), t.TempDir(), "python3.14", runtimes.Options{Packages: []string{"python3-numpy"}, Preload: []string{"numpy"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rt.Preload, []string{"numpy"}) {
		t.Errorf("manifest's preload: %v", rt.Preload)
	}
	out, err := exec.Command("chroot", "--userspec=65534:65534", rt.Root, "/usr/bin/python3.14", "-c",
		"import sys; print('numpy' in sys.modules); import numpy; print(numpy.linalg.solve([[2.0]], [4.0])[0])").CombinedOutput()
	if err != nil || string(out) != "True\n2.0\n" {
		t.Errorf("numpy in the root: %v: %s", err, out)
	}
	if pyc, _ := filepath.Glob(filepath.Join(rt.Root, "usr/lib/python3/dist-packages/numpy/__pycache__/*.pyc")); len(pyc) == 0 {
		t.Errorf("no byte code for numpy")
	}
}
