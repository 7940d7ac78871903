package sandbox

import llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

// llRules are Landlock rules for the zygote to install (it has no Go):
// the file-system rights handled, and the rights granted beneath paths.
type llRules struct {
	Handled uint64   `json:"handled"`
	Paths   [][2]any `json:"paths"`
}

// landlockRules are the rules of landlockSelf for this kernel's Landlock
// ABI: read and execute everywhere, write only to the scratch space and
// the harmless devices.
func landlockRules() *llRules {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return nil
	}
	handled := uint64(1)<<13 - 1 // ABI 1: execute .. make_sym
	for _, more := range []struct {
		abi int
		bit uint64
	}{{2, llsys.AccessFSRefer}, {3, llsys.AccessFSTruncate}, {5, llsys.AccessFSIoctlDev}} {
		if abi >= more.abi {
			handled |= more.bit
		}
	}
	const read = llsys.AccessFSExecute | llsys.AccessFSReadFile | llsys.AccessFSReadDir
	file := handled & (llsys.AccessFSExecute | llsys.AccessFSWriteFile | llsys.AccessFSReadFile |
		llsys.AccessFSTruncate | llsys.AccessFSIoctlDev)
	r := &llRules{Handled: handled, Paths: [][2]any{{"/", read}}}
	for _, d := range []string{workDir, "/tmp", "/dev/shm"} {
		r.Paths = append(r.Paths, [2]any{d, handled})
	}
	for _, d := range devices {
		r.Paths = append(r.Paths, [2]any{"/dev/" + d, file})
	}
	return r
}
