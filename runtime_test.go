package onpyrunner

import "testing"

func TestSelectRuntime(t *testing.T) {
	rts := MarkDefaults([]Runtime{{Language: "python", Version: "3.11.2"}, {Language: "pypy", Version: "3.11.17"},
		{Language: "python", Version: "3.14.10"}, {Language: "python", Version: "3.9.1"}, {Language: "python", Version: "3.140.1"}})
	for _, c := range []struct{ lang, sel, want string }{
		{"python", "", "3.140.1"}, {"python", "3", "3.140.1"}, {"python", "3.14", "3.14.10"}, {"python", "3.14.10", "3.14.10"},
		{"python", "3.11", "3.11.2"}, {"python", "3.1", ""}, {"python", "3.14.1", ""}, {"pypy", "", "3.11.17"}, {"pypy", "3.14", ""}, {"cobol", "", ""},
	} {
		rt, ok := SelectRuntime(rts, c.lang, c.sel)
		if got := map[bool]string{true: rt.Version}[ok]; got != c.want {
			t.Errorf("%s %q: %q, want %q", c.lang, c.sel, got, c.want)
		}
	}
	if rts[0].Version != "3.140.1" || !rts[0].Default || rts[1].Default || rts[len(rts)-1].Language != "pypy" || !rts[len(rts)-1].Default {
		t.Errorf("defaults: %+v", rts)
	}
}
