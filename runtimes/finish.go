package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// An extracted root lacks what the packages' maintainer scripts make when
// apt installs them, which a build does not run (they would need the
// essential set, a package manager and a shell's tools in the root). Two
// of those things a Python needs, and finish makes them:
//
//   - The links of Debian's alternatives system: numpy's libblas.so.3 and
//     liblapack.so.3 are links that libblas3's and liblapack3's scripts
//     make (update-alternatives --install LINK NAME PATH PRIORITY); without
//     them `import numpy` fails.
//   - The byte code of every module: Debian's Python packages ship only
//     sources, and their scripts compile them (py3compile). A read-only
//     root without byte code compiles each module a run imports, every
//     run: `import numpy` takes 0.43 s instead of 0.05 s.
//
// Preloaded modules (Options.Preload) are imported by a .pth file in the
// interpreter's site-packages, which site runs at every start, before the
// program: on the cold path and in the warm path's zygote alike.

// postinstFile holds, in the root while it is built, the maintainer
// scripts run after unpacking (postinst) of every package downloaded (the
// extract hook writes it).
const postinstFile = ".onpyrunner-postinst"

// preloadFile is the .pth file that imports the preloaded modules.
const preloadFile = "00-onpyrunner-preload.pth"

// moduleName is a dotted Python module name.
var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// alternative is one link that update-alternatives --install makes, and
// its priority.
type alternative struct {
	link, path string
	priority   int
}

// alternatives reads the update-alternatives --install calls of the
// scripts in postinst (lines joined where they end in a backslash) and
// returns the links each alternative's highest priority makes, its
// --slave links included. A call whose words are not plain (a shell
// variable, a quote) is left out.
func alternatives(postinst string) map[string][]alternative {
	best := map[string][]alternative{} // by alternative's name: master first
	text := strings.ReplaceAll(postinst, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		w := strings.Fields(line)
		i := slices.Index(w, "--install")
		if i < 0 || !slices.Contains(w, "update-alternatives") || len(w) < i+5 || strings.ContainsAny(line, "$\"'`") {
			continue
		}
		prio, err := strconv.Atoi(w[i+4])
		if err != nil {
			continue
		}
		alts := []alternative{{w[i+1], w[i+3], prio}}
		for j := i + 5; j+3 < len(w); j++ {
			if w[j] == "--slave" {
				alts = append(alts, alternative{w[j+1], w[j+3], prio})
				j += 3
			}
		}
		if cur, ok := best[w[i+2]]; !ok || cur[0].priority < prio {
			best[w[i+2]] = alts
		}
	}
	return best
}

// link makes, in root, the links that the packages' alternatives would:
// each to its target, where root has the target and not the link.
func link(root, postinst string) error {
	for _, alts := range alternatives(postinst) {
		for _, a := range alts {
			if !filepath.IsAbs(a.link) || !filepath.IsAbs(a.path) || strings.Contains(a.link+a.path, "..") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, a.path)); err != nil {
				continue
			}
			l := filepath.Join(root, a.link)
			if _, err := os.Lstat(l); err == nil {
				continue
			}
			rel, err := filepath.Rel(filepath.Dir(a.link), a.path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(rel, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// chrooted is the root's interpreter running script in root, as uid (0 to
// write the root, which only a build does): its output, and its stderr as
// an error where it failed.
func chrooted(ctx context.Context, root string, m *Manifest, uid uint32, script string, args ...string) ([]byte, error) {
	out, stderr, err := chrootedErr(ctx, root, m, uid, script, args...)
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, errorLine(stderr))
	}
	return out, nil
}

// chrootedErr is chrooted, with what the interpreter wrote to stderr.
func chrootedErr(ctx context.Context, root string, m *Manifest, uid uint32, script string, args ...string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.Interpreter, append([]string{"-c", script}, args...)...)
	cmd.Dir, cmd.Env = "/", []string{"LANG=C.UTF-8", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return out, stderr.String(), err
}

// errorLine is the line of an interpreter's stderr that says what went
// wrong: a traceback's last line naming an error, else its last line.
func errorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.Contains(l, "Error") {
			return l
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// compileScript byte-compiles every module on the import path, as
// Debian's scripts would; files that do not compile (the test suite's
// deliberately broken ones) are left as sources, as there.
const compileScript = `import compileall, os, sys
for d in sys.path:
    if d and os.path.isdir(d):
        compileall.compile_dir(d, quiet=2, workers=1)
`

// siteScript prints the site-packages folders that exist.
const siteScript = `import os, site
for d in site.getsitepackages():
    if os.path.isdir(d): print(d)
`

// preloadScript says which of the modules in argv the start-up imported.
const preloadScript = `import sys
print(" ".join(m for m in sys.argv[1:] if m not in sys.modules))
`

// finish makes in root what the packages' scripts would have (links and
// byte code) and the preload's .pth file, and checks that the interpreter
// starts with every preloaded module imported and nothing on stderr.
func finish(ctx context.Context, root string, m *Manifest, postinst string) error {
	if err := link(root, postinst); err != nil {
		return fmt.Errorf("alternatives: %w", err)
	}
	if _, err := chrooted(ctx, root, m, 0, compileScript); err != nil {
		return fmt.Errorf("byte-compile the modules: %w", err)
	}
	if len(m.Preload) == 0 {
		return nil
	}
	out, err := chrooted(ctx, root, m, 0, siteScript)
	dirs := strings.Fields(string(out))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("preload: no site-packages folder (%v)", err)
	}
	pth := "import " + strings.Join(m.Preload, ", ") + "\n"
	if err := os.WriteFile(filepath.Join(root, dirs[0], preloadFile), []byte(pth), 0o644); err != nil {
		return err
	}
	// The modules' own byte code, where importing them compiled more.
	if _, err := chrooted(ctx, root, m, 0, compileScript); err != nil {
		return fmt.Errorf("byte-compile the modules: %w", err)
	}
	// site says what a .pth line raised on stderr, and goes on.
	out, stderr, err := chrootedErr(ctx, root, m, 65534, preloadScript, m.Preload...)
	if err != nil || strings.Contains(stderr, "Error processing line") {
		return fmt.Errorf("preload %s: %s", strings.Join(m.Preload, ","), errorLine(stderr))
	}
	if missing := strings.TrimSpace(string(out)); missing != "" {
		return fmt.Errorf("preload: start-up did not import %s", missing)
	}
	return nil
}
