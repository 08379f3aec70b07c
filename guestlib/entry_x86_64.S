/* guestlib/entry_x86_64.S: the guest's ring-0 entry points: the syscall
 * stub at LSTAR and the exception stubs the IDT points at. Every
 * instruction here is emulated (~1 us) on software KVM: keep them few. */
#include "dune/abi.h"

	.section .text.guestlib, "ax"
	.globl gl_text_start
gl_text_start:

/* syscall lands here at CPL0 on real hardware and (a software-KVM quirk)
 * at CPL3 on ours, so it must work at either: one exit to the vmm, which
 * executes the syscall and resumes the caller at rcx with rflags = r11. */
	.globl gl_syscall_entry
gl_syscall_entry:
	outb %al, $DUNE_PORT_SYSCALL
	ud2

/* Fast stubs (ring-3 mode): the vmm handles every exception. */
/* Vectors with a CPU-pushed error code: 8, 10-14, 17, 21, 29, 30. */
.macro NOERR vec
	.if (\vec - 8) && ((\vec < 10) || (\vec > 14)) && (\vec - 17) && (\vec - 21) && (\vec - 29) && (\vec - 30)
	pushq $0
	.endif
.endm

.macro FAST vec
gl_fast_\vec:
	NOERR \vec
	pushq $\vec
	.if \vec == 6
	jmp gl_ud_fast
	.else
	outb %al, $DUNE_PORT_TRAP
	addq $16, %rsp
	iretq
	.endif
.endm

/* Full stubs (ring-0 mode): save a struct dune_tf and try the in-guest
 * handlers first. */
.macro FULL vec
gl_full_\vec:
	NOERR \vec
	pushq $\vec
	jmp gl_trap_full
.endm


.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	FAST \v
	FULL \v
.endr

/* #UD in ring-3 mode: a privileged request from gl_priv(), or a real #UD
 * for the vmm. Frame: [vec][err][rip]... ; rax, rdi, rsi are gl_priv()'s
 * (caller-saved: the request is a function call for its caller). */
gl_ud_fast:
	pushq %r11
	leaq gl_priv_insn(%rip), %r11
	cmpq %r11, 24(%rsp)
	popq %r11
	jne 9f
	cmpl $DUNE_PRIV_INVLPG, %eax
	jne 1f
	invlpg (%rdi)
	jmp 8f
1:	cmpl $DUNE_PRIV_FLUSH, %eax
	jne 2f
	movq %cr3, %rax
	movq %rax, %cr3
	jmp 8f
2:	cmpl $DUNE_PRIV_SETROOT, %eax
	jne 3f
	movq %rdi, %cr3
	jmp 8f
3:	cmpl $DUNE_PRIV_INVLPG_N, %eax
	jne 7f
4:	testq %rsi, %rsi
	jz 8f
	invlpg (%rdi)
	addq $4096, %rdi
	decq %rsi
	jmp 4b
7:	movq $-1, %rax          /* unknown op */
	jmp 6f
8:	xorl %eax, %eax
6:	addq $2, 16(%rsp)       /* past the ud2 */
	addq $16, %rsp
	iretq
9:	outb %al, $DUNE_PORT_TRAP
	addq $16, %rsp
	iretq

gl_trap_full:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call gl_trap_dispatch
	testl %eax, %eax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	jnz 1f
	outb %al, $DUNE_PORT_TRAP /* no in-guest handler: the vmm decides */
1:	addq $16, %rsp
	iretq

/* The vmm resumes a fixed #PF here instead of after the `out` when the
 * old PTE may still be cached in the TLB (it allowed less). */
	.globl gl_flush_ret
gl_flush_ret:
	pushq %rax
	movq %cr2, %rax
	invlpg (%rax)
	popq %rax
	addq $16, %rsp
	iretq

/* Return from a syscall that entered at CPL0 on hardware that switches
 * rings (ring-3 mode): rcx/r11 still hold the caller's rip/rflags. */
	.globl gl_sysret
gl_sysret:
	sysretq

	.globl gl_text_end
gl_text_end:

/* long gl_priv(uint64_t a0, uint64_t a1, int op): a privileged request
 * from ring 3 (see DUNE_PRIV_* in dune/abi.h). Ordinary user text: ring 3
 * executes it. */
	.text
	.globl gl_priv, gl_priv_insn
	.hidden gl_priv, gl_priv_insn
	.type gl_priv, @function
gl_priv:
	movl %edx, %eax
gl_priv_insn:
	ud2
	ret
	.size gl_priv, .-gl_priv

	.section .data.rel.ro, "aw"
	.balign 8
	.globl gl_vectors_fast
gl_vectors_fast:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad gl_fast_\v
.endr
	.globl gl_vectors_full
gl_vectors_full:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad gl_full_\v
.endr

	.section .note.GNU-stack, "", @progbits
