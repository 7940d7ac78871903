package onpyrunner

import (
	"strings"
	"testing"
)

func TestLimitsValidate(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want string // in the error; "" for none
	}{
		{Limits{}, ""},
		{DefaultLimits, ""},
		{Limits{MemoryMB: -1}, "limits.memoryMB: must not be negative"},
		{Limits{WallTimeMs: -5}, "limits.wallTimeMs"},
		{Limits{OpenFiles: 3}, "limits.openFiles: must be at least 8"},
		{Limits{OpenFiles: 8}, ""},
	} {
		err := c.l.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.l, err, c.want)
		}
	}
}

func TestLimitsOr(t *testing.T) {
	got := Limits{TimeMs: 5, MemoryMB: 0}.Or(Limits{TimeMs: 1, MemoryMB: 2, Processes: 3})
	if got != (Limits{TimeMs: 5, MemoryMB: 2, Processes: 3}) {
		t.Errorf("Or: %+v", got)
	}
	if d := (Limits{OutputKB: 8}).WithDefaults(); d.StderrKB != 8 || d.TimeMs != DefaultLimits.TimeMs {
		t.Errorf("WithDefaults: %+v", d)
	}
}
