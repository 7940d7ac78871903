//go:build linux && !amd64

package sandbox

// stepRunner is nil where there is no machine code for it: the zygote
// makes the calls itself.
func stepRunner() []byte { return nil }

// pid1Program is nil where there is no machine code for it: the zygote
// forks itself as each run's pid 1 instead.
func pid1Program([]step) ([]byte, error) { return nil, nil }
