// Package judge decides whether a program's output answers a test: the
// comparison modes of a job's tests (exact, lines, tokens, float) and the
// first difference, in words a competitive programmer reads.
package judge

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/onpyrunner/onpyrunner"
)

// Mode is how output is compared with the expected output.
type Mode string

// The comparison modes.
const (
	// Exact compares the bytes.
	Exact Mode = "exact"
	// Lines ignores trailing whitespace on each line (a CR of CRLF
	// included) and trailing blank lines, as Judge0 does. The default.
	Lines Mode = "lines"
	// Tokens compares the whitespace-separated tokens.
	Tokens Mode = "tokens"
	// Float compares tokens, numbers equal within the tolerance.
	Float Mode = "float"
)

// DefaultTolerance is Float's tolerance where a job names none.
const DefaultTolerance = 1e-6

// Valid says whether m is a mode ("" is Lines).
func (m Mode) Valid() bool {
	switch m {
	case "", Exact, Lines, Tokens, Float:
		return true
	}
	return false
}

// Diff is the first difference between expected and actual output: the
// line (from 1) of the output where it is, and the expected and actual
// line there (for tokens and float, the tokens).
type Diff = onpyrunner.Diff

// maxShown bounds what a Diff shows of a line.
const maxShown = 200

// Compare compares got with want in mode m (tolerance tol for Float, 0
// for DefaultTolerance); nil means they match.
func Compare(m Mode, want, got string, tol float64) *Diff {
	switch m {
	case Exact:
		if want == got {
			return nil
		}
		return exactDiff(want, got)
	case Tokens, Float:
		if tol <= 0 {
			tol = DefaultTolerance
		}
		return tokenDiff(want, got, m == Float, tol)
	}
	w, g := trimmedLines(want), trimmedLines(got)
	return lineDiff(w, g, func(a, b string) bool { return a == b })
}

// exactDiff is the line of the first byte where want and got differ, each
// shown with its line end (\n, \r) made visible.
func exactDiff(want, got string) *Diff {
	off := 0
	for off < len(want) && off < len(got) && want[off] == got[off] {
		off++
	}
	start := strings.LastIndexByte(got[:off], '\n') + 1
	line := func(s string) string {
		if start >= len(s) {
			return "(nothing more)"
		}
		l := s[start:]
		if i := strings.IndexByte(l, '\n'); i >= 0 {
			l = l[:i+1]
		}
		return shown(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(l))
	}
	return &Diff{Line: strings.Count(got[:start], "\n") + 1, Expected: line(want), Got: line(got)}
}

// trimmedLines are s's lines without trailing whitespace, trailing blank
// lines dropped.
func trimmedLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r\f\v")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lineDiff is the first line where w and g differ by eq, or nil.
func lineDiff(w, g []string, eq func(a, b string) bool) *Diff {
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		switch {
		case i >= len(w):
			return &Diff{Line: i + 1, Expected: "(nothing more)", Got: shown(g[i])}
		case i >= len(g):
			return &Diff{Line: i + 1, Expected: shown(w[i]), Got: "(nothing more)"}
		default:
			a, b = w[i], g[i]
		}
		if !eq(a, b) {
			return &Diff{Line: i + 1, Expected: shown(a), Got: shown(b)}
		}
	}
	return nil
}

// token is one whitespace-separated token and the line it is on.
type token struct {
	text string
	line int
}

func tokens(s string) []token {
	var out []token
	for i, l := range strings.Split(s, "\n") {
		for _, f := range strings.Fields(l) {
			out = append(out, token{f, i + 1})
		}
	}
	return out
}

func tokenDiff(want, got string, float bool, tol float64) *Diff {
	w, g := tokens(want), tokens(got)
	for i := 0; i < max(len(w), len(g)); i++ {
		switch {
		case i >= len(w):
			return &Diff{Line: g[i].line, Expected: "(nothing more)", Got: shown(g[i].text)}
		case i >= len(g):
			line := 1
			if len(g) > 0 {
				line = g[len(g)-1].line
			}
			return &Diff{Line: line, Expected: shown(w[i].text), Got: "(nothing more)"}
		}
		if w[i].text == g[i].text || float && closeEnough(w[i].text, g[i].text, tol) {
			continue
		}
		return &Diff{Line: g[i].line, Expected: shown(w[i].text), Got: shown(g[i].text)}
	}
	return nil
}

// closeEnough says whether two tokens are numbers within tol of each
// other, absolutely or relatively; NaN equals NaN, and infinities of the
// same sign are equal.
func closeEnough(a, b string, tol float64) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch {
	case math.IsNaN(x) || math.IsNaN(y):
		return math.IsNaN(x) && math.IsNaN(y)
	case math.IsInf(x, 0) || math.IsInf(y, 0):
		return x == y
	}
	d := math.Abs(x - y)
	return d <= tol || d <= tol*math.Abs(x)
}

// shown is a line as a Diff shows it: cut at maxShown bytes.
func shown(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
