package onpyrunner

import (
	"slices"
	"strconv"
	"strings"
)

// Runtime is an interpreter that a server runs, as GET /api/runtimes lists
// it.
type Runtime struct {
	// Language is what a job asks for: "python" or "pypy".
	Language string `json:"language"`
	// Version is the Python version it implements, in full ("3.14.10").
	Version string `json:"version"`
	// Implementation is "cpython" or "pypy"; ImplementationVersion is
	// PyPy's own version ("8.0.1").
	Implementation        string `json:"implementation,omitempty"`
	ImplementationVersion string `json:"implementationVersion,omitempty"`
	// Packages are the Debian packages it was built with beyond the
	// interpreter (python3-numpy...).
	Packages []string `json:"packages"`
	// Preload are the modules that every run imports before the program
	// (numpy...): on the warm path their import costs nothing.
	Preload []string `json:"preload,omitempty"`
	// Default says it is what a job of its language without a version
	// gets: the newest of the language.
	Default bool `json:"default"`
}

// SelectRuntime picks what a job asking for language and version gets: the
// newest runtime of the language whose version is version or starts with
// it ("3.14" and "3" select 3.14.10; "" selects the newest). ok is false
// when none matches.
func SelectRuntime(rts []Runtime, language, version string) (rt Runtime, ok bool) {
	for _, r := range rts {
		if r.Language == language && VersionMatches(r.Version, version) && (!ok || CompareVersions(r.Version, rt.Version) > 0) {
			rt, ok = r, true
		}
	}
	return rt, ok
}

// VersionMatches says whether a full version is selected by sel: equal, or
// sel is its leading numbers ("3.14" selects "3.14.10", not "3.140.1").
func VersionMatches(full, sel string) bool {
	return sel == "" || full == sel || strings.HasPrefix(full, sel+".")
}

// CompareVersions orders dotted versions by their numbers.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(as), len(bs)) {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

// MarkDefaults sets Default on the newest runtime of each language and
// orders them: python first, then by language, newest first (Packages is
// never nil: the API lists none as []).
func MarkDefaults(rts []Runtime) []Runtime {
	rts = slices.Clone(rts)
	slices.SortStableFunc(rts, func(a, b Runtime) int {
		switch {
		case a.Language != b.Language && a.Language == "python":
			return -1
		case a.Language != b.Language && b.Language == "python":
			return 1
		case a.Language != b.Language:
			return strings.Compare(a.Language, b.Language)
		}
		return CompareVersions(b.Version, a.Version)
	})
	for i := range rts {
		rts[i].Default = i == 0 || rts[i-1].Language != rts[i].Language
		if rts[i].Packages == nil {
			rts[i].Packages = []string{}
		}
	}
	return rts
}
