/* vmm/enter_x86_64.S: host-side stack switches: entering the guest,
 * starting a cloned thread's monitor, and ending a thread. */

	.text
/* int vmm_enter_asm(struct vmm_entry_regs *r, void *stack_top,
 *                   void (*cont)(struct vmm_entry_regs *))
 * Offsets follow struct vmm_entry_regs (checked in libdune/dune.c). */
	.globl vmm_enter_asm
	.type vmm_enter_asm, @function
vmm_enter_asm:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)     /* rsp after our ret */
	movq (%rsp), %rax
	movq %rax, 56(%rdi)     /* return address */
	movq %rsi, %rsp
	xorl %ebp, %ebp
	call *%rdx              /* never returns; the guest returns 0 */
	ud2
	.size vmm_enter_asm, .-vmm_enter_asm

/* long vmm_clone_asm(unsigned long flags, void *child_stack, int *ptid,
 *                    int *ctid, unsigned long tls, void (*fn)(void *),
 *                    void *arg)   -- arg is at 8(%rsp) */
	.globl vmm_clone_asm
	.type vmm_clone_asm, @function
vmm_clone_asm:
	movq 8(%rsp), %rax
	/* Park fn and arg on the child's stack. */
	subq $16, %rsi
	movq %r9, 0(%rsi)
	movq %rax, 8(%rsi)
	movq %rcx, %r10         /* ctid */
	movq %r8, %r8           /* tls */
	movl $56, %eax          /* SYS_clone */
	syscall
	testq %rax, %rax
	jnz 1f
	/* child: on the new stack */
	xorl %ebp, %ebp
	popq %rax               /* fn */
	popq %rdi               /* arg */
	call *%rax
	ud2
1:	ret
	.size vmm_clone_asm, .-vmm_clone_asm

/* void vmm_exit_thread_asm(void *stack, size_t size, long status) */
	.globl vmm_exit_thread_asm
	.type vmm_exit_thread_asm, @function
vmm_exit_thread_asm:
	movq %rdx, %r12
	movl $11, %eax          /* SYS_munmap(stack, size) */
	syscall
	movq %r12, %rdi
	movl $60, %eax          /* SYS_exit(status) */
	syscall
	ud2
	.size vmm_exit_thread_asm, .-vmm_exit_thread_asm

/* long vmm_probe_read(const void *addr): 0, or the host signal handler
 * moves rip to vmm_probe_ret with rax = -EFAULT / -EBUSY. */
	.globl vmm_probe_read, vmm_probe_insn, vmm_probe_ret
	.type vmm_probe_read, @function
vmm_probe_read:
	xorl %eax, %eax
vmm_probe_insn:
	movb (%rdi), %cl
vmm_probe_ret:
	ret
	.size vmm_probe_read, .-vmm_probe_read

/* Restorer for the monitor's own host signal handlers. */
	.globl vmm_sigrestorer
	.type vmm_sigrestorer, @function
vmm_sigrestorer:
	movl $15, %eax          /* SYS_rt_sigreturn */
	syscall
	ud2
	.size vmm_sigrestorer, .-vmm_sigrestorer

	.section .note.GNU-stack, "", @progbits
