//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
)

// asm assembles x86-64 machine code, with rel32 fixups patched once their
// target is known: for the step runner and the tiny pid 1, which a warm
// slot's zygote runs.
type asm struct{ b []byte }

func (a *asm) op(b ...byte) *asm { a.b = append(a.b, b...); return a }
func (a *asm) u16(v uint16) *asm { a.b = binary.LittleEndian.AppendUint16(a.b, v); return a }
func (a *asm) u32(v uint32) *asm { a.b = binary.LittleEndian.AppendUint32(a.b, v); return a }
func (a *asm) u64(v uint64) *asm { a.b = binary.LittleEndian.AppendUint64(a.b, v); return a }

// fixup leaves room for a rel32 and returns where it is.
func (a *asm) fixup() int { at := len(a.b); a.u32(0); return at }

// patch points the rel32 at `at` (relative to its end) to offset to.
func (a *asm) patch(at, to int) {
	binary.LittleEndian.PutUint32(a.b[at:], uint32(int32(to-(at+4))))
}

// syscall6 is `syscall` with rax = nr and the arguments in rdi, rsi, rdx,
// r10, r8 and r9 (movabs of each).
func (a *asm) syscall6(nr uintptr, args ...uint64) {
	regs := [][2]byte{{0x48, 0xBF}, {0x48, 0xBE}, {0x48, 0xBA}, {0x49, 0xBA}, {0x49, 0xB8}, {0x49, 0xB9}}
	for i, v := range args {
		a.op(regs[i][0], regs[i][1]).u64(v)
	}
	a.op(0xB8).u32(uint32(nr)).op(0x0F, 0x05)
}

// steps makes each step's system call, and jumps to the returned fixup's
// target at the first that fails. Steps may hold numbers only.
func (a *asm) steps(steps []step) (failed []int, err error) {
	for _, st := range steps {
		var args []uint64
		for _, arg := range st.Args {
			if arg.Ref != "" || arg.B != nil {
				return nil, fmt.Errorf("step %q: machine code takes numbers only", st.What)
			}
			args = append(args, arg.N)
		}
		a.syscall6(st.NR, args...)
		a.op(0x48, 0x85, 0xC0, 0x0F, 0x88) // test rax, rax; js rel32
		failed = append(failed, a.fixup())
	}
	return failed, nil
}
