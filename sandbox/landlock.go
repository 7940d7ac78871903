//go:build linux

package sandbox

import (
	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// The program may write only to its scratch space and the harmless
// devices: the one list that both the init (landlockSelf) and a warm
// slot's zygote (landlockRules) confine it to.
var scratchDirs = []string{workDir, "/tmp", "/dev/shm"}

func devicePaths() []string {
	var out []string
	for _, d := range devices {
		out = append(out, "/dev/"+d)
	}
	return out
}

// llRules are Landlock rules for the zygote to install (it has no Go):
// the file-system rights handled, and the rights granted beneath paths.
type llRules struct {
	Handled uint64   `json:"handled"`
	Scoped  uint64   `json:"scoped"`
	Paths   [][2]any `json:"paths"`
}

// llScoped is what a run may not reach outside its own Landlock domain,
// where the kernel can scope it (ABI 6): abstract unix sockets. (Its
// network namespace holds none of anyone else's either.) Signals are not
// scoped: a run may signal its own pid 1, which is outside its domain.
const llScoped = llsys.ScopeAbstractUnixSocket

// The rights that go-landlock's RODirs, RWDirs and RWFiles grant, which
// the init's landlockSelf uses: a warm run gets the same.
const (
	llRead  = llsys.AccessFSExecute | llsys.AccessFSReadFile | llsys.AccessFSReadDir
	llWrite = llsys.AccessFSWriteFile | llsys.AccessFSRemoveDir | llsys.AccessFSRemoveFile |
		llsys.AccessFSMakeChar | llsys.AccessFSMakeDir | llsys.AccessFSMakeReg | llsys.AccessFSMakeSock |
		llsys.AccessFSMakeFifo | llsys.AccessFSMakeBlock | llsys.AccessFSMakeSym | llsys.AccessFSTruncate
	llFile = llsys.AccessFSExecute | llsys.AccessFSWriteFile | llsys.AccessFSTruncate | llsys.AccessFSReadFile
)

// landlockRules are landlockSelf's rules for this kernel's Landlock ABI,
// as go-landlock's best effort with V5 makes them; nil without Landlock.
func landlockRules() *llRules {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return nil
	}
	handled := uint64([]landlock.Config{landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5}[min(abi, 5)-1].HandledAccessFS)
	r := &llRules{Handled: handled, Paths: [][2]any{{"/", llRead & handled}}}
	if abi >= 6 {
		r.Scoped = llScoped
	}
	for _, d := range scratchDirs {
		r.Paths = append(r.Paths, [2]any{d, (llRead | llWrite) & handled})
	}
	for _, d := range devicePaths() {
		r.Paths = append(r.Paths, [2]any{d, (llRead | llWrite) & llFile & handled})
	}
	return r
}
