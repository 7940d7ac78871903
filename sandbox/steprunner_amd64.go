//go:build linux

package sandbox

// stepRunner is x86-64 machine code for
//
//	long run(struct step *steps, long n)
//
// where a step is eight longs: the system call's number, its six
// arguments and its result. It makes each call in turn, stores its result,
// and stops at the first that fails; it returns how many succeeded. A warm
// run's own process carries out its steps with it (zygote.py's run_steps):
// a call from the interpreter for each would touch (and so copy) page
// after page of the interpreter's memory that the fork shares.
func stepRunner() []byte {
	var c asm
	c.op(0x53, 0x41, 0x54, 0x41, 0x55) // push rbx; push r12; push r13
	c.op(0x48, 0x89, 0xFB)             // mov rbx, rdi
	c.op(0x49, 0x89, 0xF4)             // mov r12, rsi
	c.op(0x45, 0x31, 0xED)             // xor r13d, r13d
	loop := len(c.b)
	c.op(0x4D, 0x39, 0xE5) // cmp r13, r12
	c.op(0x73)             // jae done
	toDone := len(c.b)
	c.op(0)
	c.op(0x48, 0x8B, 0x03)       // mov rax, [rbx]
	c.op(0x48, 0x8B, 0x7B, 0x08) // mov rdi, [rbx+8]
	c.op(0x48, 0x8B, 0x73, 0x10) // mov rsi, [rbx+16]
	c.op(0x48, 0x8B, 0x53, 0x18) // mov rdx, [rbx+24]
	c.op(0x4C, 0x8B, 0x53, 0x20) // mov r10, [rbx+32]
	c.op(0x4C, 0x8B, 0x43, 0x28) // mov r8, [rbx+40]
	c.op(0x4C, 0x8B, 0x4B, 0x30) // mov r9, [rbx+48]
	c.op(0x0F, 0x05)             // syscall
	c.op(0x48, 0x89, 0x43, 0x38) // mov [rbx+56], rax
	c.op(0x48, 0x3D).u32(0xFFFFF001)
	c.op(0x73) // jae done: rax is -errno
	toDone2 := len(c.b)
	c.op(0)
	c.op(0x48, 0x83, 0xC3, 0x40) // add rbx, 64
	c.op(0x49, 0xFF, 0xC5)       // inc r13
	c.op(0xEB, byte(loop-(len(c.b)+2)))
	done := len(c.b)
	c.b[toDone] = byte(done - (toDone + 1))
	c.b[toDone2] = byte(done - (toDone2 + 1))
	c.op(0x4C, 0x89, 0xE8)                   // mov rax, r13
	c.op(0x41, 0x5D, 0x41, 0x5C, 0x5B, 0xC3) // pop r13; pop r12; pop rbx; ret
	return c.b
}
