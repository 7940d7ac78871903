package judge

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	big := strings.Repeat("1 2 3\n", 200_000)
	for _, c := range []struct {
		mode      Mode
		want, got string
		tol       float64
		ok        bool
		line      int // of the diff, when not ok
	}{
		{Exact, "3\n", "3\n", 0, true, 0},
		{Exact, "3\n", "3", 0, false, 1},
		{Exact, "3\n", "3 \n", 0, false, 1},
		{Exact, "", "", 0, true, 0},
		{Lines, "3\n", "3", 0, true, 0},             // missing last newline
		{Lines, "3\n", "3   \n\n\n", 0, true, 0},    // trailing spaces, trailing blank lines
		{Lines, "a\nb\n", "a\r\nb\r\n", 0, true, 0}, // CRLF
		{"", "a\nb\n", "a\nc\n", 0, false, 2},       // "" is lines
		{Lines, "a\n\nb\n", "a\nb\n", 0, false, 2},  // an inner blank line counts
		{Lines, " a\n", "a\n", 0, false, 1},         // leading spaces count
		{Lines, "", "", 0, true, 0},                 // empty output
		{Lines, "", "\n\n", 0, true, 0},
		{Lines, "1\n", "", 0, false, 1},
		{Lines, "1\n", "1\n2\n", 0, false, 2},
		{Tokens, "1 2\n3\n", "1\n2   3", 0, true, 0},
		{Tokens, "1 2\n", "1 3\n", 0, false, 1},
		{Tokens, "1 2 3\n", "1 2\n", 0, false, 1},
		{Float, "0.1 0.2\n", "0.1000001 0.2\n", 0, true, 0},
		{Float, "0\n", "1e-7\n", 0, true, 0}, // absolute
		{Float, "0\n", "-0.0\n", 0, true, 0},
		{Float, "1e9\n", "1000000000.5\n", 0, true, 0}, // relative
		{Float, "1\n", "1.01\n", 0, false, 1},
		{Float, "1\n", "1.01\n", 0.1, true, 0},
		{Float, "nan\n", "nan\n", 0, true, 0},
		{Float, "nan\n", "1\n", 0, false, 1},
		{Float, "inf\n", "inf\n", 0, true, 0},
		{Float, "inf\n", "-inf\n", 0, false, 1},
		{Float, "YES 1.5\n", "YES 1.5000000001\n", 0, true, 0},
		{Float, "YES\n", "yes\n", 0, false, 1}, // words compare exactly
		{Lines, big, big, 0, true, 0},          // huge outputs
		{Tokens, big, big + "4", 0, false, 200_001},
	} {
		d := Compare(c.mode, c.want, c.got, c.tol)
		if (d == nil) != c.ok || d != nil && d.Line != c.line {
			t.Errorf("%s %.30q vs %.30q: %+v, want ok=%v line %d", c.mode, c.want, c.got, d, c.ok, c.line)
		}
	}
	d := Compare(Lines, "a\nb\nc\n", "a\nx\nc\n", 0)
	if d == nil || *d != (Diff{Line: 2, Expected: "b", Got: "x"}) {
		t.Errorf("diff %+v", d)
	}
	long := strings.Repeat("é", 1000)
	if d := Compare(Exact, long, long+"!", 0); d == nil || len(d.Got) > maxShown+40 || !strings.HasSuffix(d.Got, "(2001 bytes)") {
		t.Errorf("a long line's diff: %+v", d)
	}
}

// FuzzCompare: every mode takes any bytes, a text matches itself, and a
// difference names a line of the output.
func FuzzCompare(f *testing.F) {
	f.Add("1 2\n", "1  2\r\n")
	f.Add("nan", "-0.0")
	f.Fuzz(func(t *testing.T, want, got string) {
		for _, m := range []Mode{Exact, Lines, Tokens, Float} {
			if d := Compare(m, want, want, 0); d != nil {
				t.Fatalf("%s: %q differs from itself: %+v", m, want, d)
			}
			if d := Compare(m, want, got, 0); d != nil && (d.Line < 1 || d.Line > strings.Count(got, "\n")+strings.Count(want, "\n")+1) {
				t.Fatalf("%s: line %d", m, d.Line)
			}
		}
	})
}
