//go:build linux

package sandbox

import "golang.org/x/sys/unix"

// pid1Program is a tiny static x86-64 Linux program that a warm slot's
// zygote starts (posix_spawn, no copy of the interpreter) as pid 1 of each
// run's pid namespace. It carries out steps (pid1Steps: it becomes the
// program's uid), or exits at the first that fails; then it reaps the
// orphans reparented to it, and exits on a signal that ends a process
// (SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM), which ends the run
// as a fresh run's init does; the kernel drops the other signals that the
// run sends its pid 1.
func pid1Program(steps []step) ([]byte, error) {
	const base, codeAt = 0x400000, 64 + 56 // one program header
	var c asm
	failed, err := c.steps(steps)
	if err != nil {
		return nil, err
	}
	// rt_sigaction(sig, act, NULL, 8) for the ending signals, then SIGCHLD.
	c.op(0x48, 0x8D, 0x35)
	endAct := c.fixup() // lea rsi, [rip+endAct]
	for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM} {
		c.sigaction(sig)
	}
	c.op(0x48, 0x8D, 0x35)
	chldAct := c.fixup() // lea rsi, [rip+chldAct]
	c.sigaction(unix.SIGCHLD)
	// for { if wait4(-1, NULL, 0, NULL) == -ECHILD { pause() } }
	loop := len(c.b)
	c.op(0xBF).u32(0xFFFFFFFF).op(0x31, 0xF6, 0x31, 0xD2, 0x45, 0x31, 0xD2).op(0xB8).u32(unix.SYS_WAIT4).op(0x0F, 0x05)
	c.op(0x48, 0x83, 0xF8, byte(256-int(unix.ECHILD))) // cmp rax, -ECHILD
	c.op(0x75, byte(loop-(len(c.b)+2)))
	c.op(0xB8).u32(unix.SYS_PAUSE).op(0x0F, 0x05)
	c.op(0xEB, byte(loop-(len(c.b)+2)))
	exit := len(c.b) // exit_group(1)
	c.op(0xBF).u32(1).op(0xB8).u32(unix.SYS_EXIT_GROUP).op(0x0F, 0x05)
	for _, at := range failed {
		c.patch(at, exit)
	}
	ret := len(c.b) // SIGCHLD: back to pause, which returns
	c.op(0xC3)
	restorer := len(c.b)
	c.op(0xB8).u32(unix.SYS_RT_SIGRETURN).op(0x0F, 0x05)
	for len(c.b)%8 != 0 {
		c.op(0x90)
	}
	addr := func(off int) uint64 { return base + codeAt + uint64(off) }
	// struct kernel_sigaction: handler, flags, restorer, mask. x86-64
	// delivers no signal without a restorer.
	const saRestorer, saRestart = 0x04000000, 0x10000000
	c.patch(endAct, len(c.b))
	c.u64(addr(exit)).u64(saRestorer).u64(addr(restorer)).u64(0)
	c.patch(chldAct, len(c.b))
	c.u64(addr(ret)).u64(saRestorer | saRestart).u64(addr(restorer)).u64(0)

	size := uint64(codeAt + len(c.b))
	var h asm // the ELF header, then one PT_LOAD program header (read, execute)
	h.op(0x7F, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	h.u16(2).u16(0x3E).u32(1).u64(base + codeAt).u64(64).u64(0).u32(0).u16(64).u16(56).u16(1).u16(64).u16(0).u16(0)
	h.u32(1).u32(5).u64(0).u64(base).u64(base).u64(size).u64(size).u64(0x1000)
	return append(h.b, c.b...), nil
}

// sigaction is rt_sigaction(sig, rsi, NULL, 8).
func (a *asm) sigaction(sig unix.Signal) {
	a.op(0xBF).u32(uint32(sig)).op(0x31, 0xD2).op(0x41, 0xBA).u32(8).op(0xB8).u32(unix.SYS_RT_SIGACTION).op(0x0F, 0x05)
}
