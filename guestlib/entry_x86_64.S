/* guestlib/entry_x86_64.S: the guest's ring-0 entry points: the syscall
 * stub at LSTAR and the exception stubs the IDT points at. Every
 * instruction here is emulated (~1 us) on software KVM: keep them few. */
#include "dune/abi.h"
#include "layout.h"

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

/* Load every GPR from the struct dune_tf at rdi (rdi last). */
.macro LOAD_TF_GPRS
	movq 0(%rdi), %r15
	movq 8(%rdi), %r14
	movq 16(%rdi), %r13
	movq 24(%rdi), %r12
	movq 32(%rdi), %r11
	movq 40(%rdi), %r10
	movq 48(%rdi), %r9
	movq 56(%rdi), %r8
	movq 64(%rdi), %rbp
	movq 80(%rdi), %rsi
	movq 88(%rdi), %rdx
	movq 96(%rdi), %rcx
	movq 104(%rdi), %rbx
	movq 112(%rdi), %rax
	movq 72(%rdi), %rdi
.endm

/* Exception stubs (both modes): a vector with a registered handler is
 * upcalled (gl_upcall), #UD may be a privileged request (gl_ud_fast),
 * anything else exits to the vmm. */
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
	btq $\vec, gl_upcall_mask(%rip)
	jc gl_upcall
	outb %al, $DUNE_PORT_TRAP
	addq $16, %rsp
	iretq
	.endif
.endm

/* Exit-only stubs: the IDT used while dune_jump_to_user() code runs. No
 * upcalls and no privileged requests: every exception goes to the vmm. */
.macro EXITONLY vec
gl_exit_\vec:
	NOERR \vec
	pushq $\vec
	outb %al, $DUNE_PORT_TRAP
	addq $16, %rsp
	iretq
.endm

.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	FAST \v
	EXITONLY \v
.endr

/* #UD: a privileged request from gl_priv() (ring-3 mode), or a real #UD
 * for a handler or the vmm. Frame: [vec][err][rip]... ; rax, rdi, rsi are gl_priv()'s
 * (caller-saved: the request is a function call for its caller). */
gl_ud_fast:
	pushq %r11
	leaq gl_priv_insn(%rip), %r11
	cmpq %r11, 24(%rsp)
	popq %r11
	jne 9f
	cmpl $DUNE_PRIV_RESUME, %eax    /* the most frequent: first */
	je gl_resume
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
	jne 5f
4:	testq %rsi, %rsi
	jz 8f
	invlpg (%rdi)
	addq $4096, %rdi
	decq %rsi
	jmp 4b
5:
7:	movq $-1, %rax          /* unknown op */
	jmp 6f
8:	xorl %eax, %eax
6:	addq $2, 16(%rsp)       /* past the ud2 */
	addq $16, %rsp
	iretq
9:	btq $6, gl_upcall_mask(%rip)
	jc gl_upcall
	outb %al, $DUNE_PORT_TRAP
	addq $16, %rsp
	iretq

/* Upcall: IST frame [vec][err][rip][cs][rflags][rsp][ss]. Save everything
 * as a struct dune_tf on the vCPU's upcall stack and iret to the
 * application's CPL (the interrupted CS): gl_upcall_entry in ring 3,
 * gl_upcall_entry0 in ring 0. The handler runs off the IST stack, so an
 * exception inside it nests instead of overwriting this frame. About 40
 * instructions. */
gl_upcall:
	pushq %rax
	pushq %rdi
	/* On the vCPU's upcall stack (its top is in our block, found from
	 * rsp); below the interrupted rsp if that is already on it. */
	movq %rsp, %rdi
	andq $-VCPU_BLOCK_SIZE, %rdi
	movq VCPU_UPSTACK_PTR_OFF(%rdi), %rdi
	movq 56(%rsp), %rax             /* the interrupted rsp */
	cmpq %rdi, %rax
	jae 1f
	leaq -UPCALL_STACK_SIZE(%rdi), %rdi
	cmpq %rdi, %rax
	jb 2f
	leaq -128(%rax), %rdi           /* nested: below its red zone */
	jmp 1f
2:	leaq UPCALL_STACK_SIZE(%rdi), %rdi
1:	subq $DUNE_TF_SIZE, %rdi
	andq $-16, %rdi
	movq %r15, 0(%rdi)
	movq %r14, 8(%rdi)
	movq %r13, 16(%rdi)
	movq %r12, 24(%rdi)
	movq %r11, 32(%rdi)
	movq %r10, 40(%rdi)
	movq %r9, 48(%rdi)
	movq %r8, 56(%rdi)
	movq %rbp, 64(%rdi)
	movq 0(%rsp), %rax
	movq %rax, 72(%rdi)             /* rdi */
	movq %rsi, 80(%rdi)
	movq %rdx, 88(%rdi)
	movq %rcx, 96(%rdi)
	movq %rbx, 104(%rdi)
	movq 8(%rsp), %rax
	movq %rax, 112(%rdi)            /* rax */
	movq 16(%rsp), %rax
	movq %rax, 120(%rdi)            /* vec */
	movq 24(%rsp), %rax
	movq %rax, 128(%rdi)            /* err */
	movq 32(%rsp), %rax
	movq %rax, 136(%rdi)            /* rip */
	movq 40(%rsp), %rax
	movq %rax, 144(%rdi)            /* cs */
	movq 48(%rsp), %rax
	movq %rax, 152(%rdi)            /* rflags */
	movq 56(%rsp), %rax
	movq %rax, 160(%rdi)            /* rsp */
	movq 64(%rsp), %rax
	movq %rax, 168(%rdi)            /* ss */
	movq %cr2, %rsi
	leaq gl_upcall_entry(%rip), %rax
	testb $3, 40(%rsp)              /* the interrupted CPL */
	jnz 3f
	leaq gl_upcall_entry0(%rip), %rax
3:	movq %rax, 32(%rsp)             /* resume at the entry */
	movq %rdi, 56(%rsp)             /* on the stack below the tf */
	addq $32, %rsp                  /* saved rdi/rax, vec, err */
	iretq

/* DUNE_PRIV_RESUME: rdi = tf. Return to the state it holds (ring 3; the
 * flags are sanitized: no IOPL, IF set). IST frame as for a #UD. */
gl_resume:
	movq 136(%rdi), %rax
	movq %rax, 16(%rsp)             /* rip */
	movq 152(%rdi), %rax
	andq $0x240dd5, %rax
	orq $0x202, %rax
	movq %rax, 32(%rsp)             /* rflags */
	movq 160(%rdi), %rax
	movq %rax, 40(%rsp)             /* rsp */
	LOAD_TF_GPRS
	addq $16, %rsp
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

	.globl gl_text_end
gl_text_end:

/* Ring-3 side of an upcall: rdi = tf, rsi = CR2, rsp = tf (16-aligned).
 * Run the handler, then resume the state in tf through ring 0. */
	.text
	.globl gl_upcall_entry
	.hidden gl_upcall_entry
	.type gl_upcall_entry, @function
gl_upcall_entry:
	call gl_upcall_call
	movq %rsp, %rdi
	movl $DUNE_PRIV_RESUME, %eax
	jmp gl_priv_insn
	.size gl_upcall_entry, .-gl_upcall_entry

/* gl_upcall_dispatch(rdi, rsi) with the interrupted code's x87/SSE/AVX
 * state saved around it: handlers are ordinary C, and libc's string
 * functions use vector registers the interrupted code may hold live.
 * gl_fpu_save says how (GL_FPU_*, layout.h): XSAVE where the guest may use
 * it, else FXSAVE, or nothing where handlers cannot touch vector state
 * (emulated ring 0 on software KVM); the area (gl_xsave_bytes, 64-byte
 * aligned) is on the upcall stack. */
	.hidden gl_fpu_save, gl_xsave_bytes
	.type gl_upcall_call, @function
gl_upcall_call:
	pushq %rbp
	movq %rsp, %rbp
	subq gl_xsave_bytes(%rip), %rsp
	andq $-64, %rsp
	xorl %eax, %eax                 /* XSAVE header: reserved bytes 0 */
	movq %rax, 512(%rsp)
	movq %rax, 520(%rsp)
	movq %rax, 528(%rsp)
	movq %rax, 536(%rsp)
	movq %rax, 544(%rsp)
	movq %rax, 552(%rsp)
	movq %rax, 560(%rsp)
	movq %rax, 568(%rsp)
	movl $-1, %eax
	movl $-1, %edx
	cmpb $GL_FPU_XSAVE, gl_fpu_save(%rip)
	je 1f
	cmpb $GL_FPU_FXSAVE, gl_fpu_save(%rip)
	jne 2f
	fxsave64 (%rsp)
	jmp 2f
1:	xsave64 (%rsp)
2:	call gl_upcall_dispatch
	movl $-1, %eax
	movl $-1, %edx
	cmpb $GL_FPU_XSAVE, gl_fpu_save(%rip)
	je 3f
	cmpb $GL_FPU_FXSAVE, gl_fpu_save(%rip)
	jne 4f
	fxrstor64 (%rsp)
	jmp 4f
3:	xrstor64 (%rsp)
4:	movq %rbp, %rsp
	popq %rbp
	ret
	.size gl_upcall_call, .-gl_upcall_call

/* Ring-0 mode: the same for an exception or syscall upcall, resumed with
 * iretq at CPL0 from a frame built below the tf. */
	.globl gl_upcall_entry0
	.hidden gl_upcall_entry0
	.type gl_upcall_entry0, @function
gl_upcall_entry0:
	call gl_upcall_call
	movq %rsp, %rdi
	pushq $DUNE_SEL_KDATA
	pushq 160(%rdi)                 /* rsp */
	pushq 152(%rdi)                 /* rflags */
	andq $0x240dd5, (%rsp)
	orq $0x202, (%rsp)
	pushq $DUNE_SEL_KCODE
	pushq 136(%rdi)                 /* rip */
	LOAD_TF_GPRS
	iretq
	.size gl_upcall_entry0, .-gl_upcall_entry0

/* long gl_passthrough(struct dune_tf *tf): run tf's syscall for real; the
 * vmm knows the return address and does not upcall it again. */
	.globl gl_passthrough, gl_passthrough_ret
	.hidden gl_passthrough, gl_passthrough_ret
	.type gl_passthrough, @function
gl_passthrough:
	pushq %rdi
	movq 112(%rdi), %rax
	movq 80(%rdi), %rsi
	movq 88(%rdi), %rdx
	movq 40(%rdi), %r10
	movq 56(%rdi), %r8
	movq 48(%rdi), %r9
	movq 72(%rdi), %rdi
	syscall
gl_passthrough_ret:
	popq %rdi
	movq %rax, 112(%rdi)
	ret
	.size gl_passthrough, .-gl_passthrough

	.data
	.balign 8
	.globl gl_upcall_mask
	.hidden gl_upcall_mask
gl_upcall_mask:
	.quad 0

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
	.globl gl_vectors
gl_vectors:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad gl_fast_\v
.endr
	.globl gl_vectors_exit
gl_vectors_exit:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad gl_exit_\v
.endr

	.section .note.GNU-stack, "", @progbits
