package api

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/onpyrunner/onpyrunner"
)

// FuzzDecodeSubmit feeds the request decoder anything: it must never panic,
// must answer every bad body with a client error, and must let through only
// jobs within the server's caps.
func FuzzDecodeSubmit(f *testing.F) {
	for _, seed := range []string{
		`{"code": "print(1)"}`,
		`{"code": "print(input())", "input": "hi\n", "language": "python", "limits": {"timeMs": 100, "memoryMB": 64}}`,
		`{"code": "x", "limits": {"timeMs": 99999999999999999999}}`,
		`{"code": "\u0000\ud800"}`, `{"code": 1}`, `[]`, `null`, `{"code": "1"} 2`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	s := New(nil, Config{MaxCodeBytes: 64, MaxInputBytes: 64, Runtimes: []Runtime{{Language: "python"}}})
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := s.decodeSubmit(t.Context(), strings.NewReader(string(body)))
		if err != nil {
			e, ok := errors.AsType[*onpyrunner.Error](err)
			if !ok || (e.Code != onpyrunner.CodeInvalid && e.Code != onpyrunner.CodeTooLarge) || e.Message == "" {
				t.Fatalf("error %#v is not a client error", err)
			}
			return
		}
		if !utf8.ValidString(j.Code) || len(j.Code) > 64 || len(j.Input) > 64 || j.Language != "python" {
			t.Fatalf("let through %+v", j)
		}
		l, m := j.Limits, s.cfg.MaxLimits
		if l.TimeMs < 1 || l.TimeMs > m.TimeMs || l.WallTimeMs < 1 || l.WallTimeMs > m.WallTimeMs ||
			l.MemoryMB < 1 || l.MemoryMB > m.MemoryMB || l.OutputKB < 1 || l.OutputKB > m.OutputKB ||
			l.Processes < 1 || l.Processes > m.Processes || l.StderrKB != l.OutputKB {
			t.Fatalf("limits %+v outside 1..%+v", l, m)
		}
	})
}
