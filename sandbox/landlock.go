//go:build linux

package sandbox

import (
	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// llRules are the Landlock rules of every run, on both paths: the
// file-system rights handled, the scopes, and the rights granted beneath
// each path. A fresh run's init (llRules.ruleset) and a warm slot's zygote
// (landlock_ruleset) make a ruleset of them; the policy's landlock step
// enforces it.
type llRules struct {
	Handled uint64   `json:"handled"`
	Scoped  uint64   `json:"scoped"`
	Paths   []llPath `json:"paths"`
}

// llPath grants Rights beneath Path.
type llPath struct {
	Path   string `json:"path"`
	Rights uint64 `json:"rights"`
}

// llScoped is what a run may not reach outside its own Landlock domain,
// where the kernel can scope it (ABI 6): abstract unix sockets. (Its
// network namespace holds none of anyone else's either.) Signals are not
// scoped: a run may signal its own pid 1, which is outside its domain.
const llScoped = llsys.ScopeAbstractUnixSocket

// The rights a run has: reading and running everywhere (its root holds
// nothing else to read), which Landlock is therefore not asked to handle
// at all: a right granted at "/" restricts nothing, and each handled
// access walks from the file up to the rule that grants it, so reads would
// pay a walk to "/" for nothing. Writing only in its scratch
// directories, where files may also move between folders (refer: without
// it a rename into a sub-folder fails with EXDEV); reading and writing the
// harmless devices.
const (
	llRead  = llsys.AccessFSExecute | llsys.AccessFSReadFile | llsys.AccessFSReadDir
	llWrite = llsys.AccessFSWriteFile | llsys.AccessFSRemoveDir | llsys.AccessFSRemoveFile |
		llsys.AccessFSMakeChar | llsys.AccessFSMakeDir | llsys.AccessFSMakeReg | llsys.AccessFSMakeSock |
		llsys.AccessFSMakeFifo | llsys.AccessFSMakeBlock | llsys.AccessFSMakeSym | llsys.AccessFSTruncate |
		llsys.AccessFSRefer
	llFile = llsys.AccessFSExecute | llsys.AccessFSWriteFile | llsys.AccessFSTruncate | llsys.AccessFSReadFile
)

// landlockRules are the runs' rules for this kernel's Landlock ABI (the
// rights it knows); nil without Landlock.
func landlockRules() *llRules {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return nil
	}
	handled := uint64([]landlock.Config{landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5}[min(abi, 5)-1].HandledAccessFS)
	handled &^= llRead // granted everywhere: see llRead
	r := &llRules{Handled: handled}
	if abi >= 6 {
		r.Scoped = llScoped
	}
	for _, d := range scratchDirs {
		r.Paths = append(r.Paths, llPath{d.path, (llRead | llWrite) & handled})
	}
	for _, d := range devices {
		r.Paths = append(r.Paths, llPath{"/dev/" + d, (llRead | llWrite) & llFile & handled})
	}
	return r
}
