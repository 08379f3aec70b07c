/* dune/trap.h: trap frames and trap handlers (see docs/api.md for what
 * runs where). */
#ifndef DUNE_TRAP_H
#define DUNE_TRAP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Register state guestlib's exception stubs save for a handler. Fields are
 * in the order the stub pushes them; libdune/trap.c checks the offsets
 * against the assembly with _Static_assert. */
struct dune_tf {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vec, err;		   /* pushed by the stub */
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* A page-fault handler: addr = CR2, fec = error code (DUNE_PF_* bits in
 * dune/abi.h). It may change tf (rip, registers) and return to resume. */
typedef void (*dune_pgflt_cb)(uintptr_t addr, uint64_t fec, struct dune_tf *tf);
/* A handler for any exception vector 0..31. */
typedef void (*dune_intr_cb)(struct dune_tf *tf);

/* Register (cb != NULL) or remove (NULL) a handler for exceptions the
 * guest application raises; the handler may change tf (registers, rip,
 * rsp) and return to resume there. A registered vector no longer becomes
 * a signal.
 * guestlib's ring-0 stub upcalls it at the application's CPL (CPL0 in
 * ring-0 mode, CPL3 in ring-3 mode) on the vCPU's upcall stack (64 KiB;
 * below the red zone when nested), with the vector registers saved:
 * ordinary C, libc allowed. No VM exit: a few dozen guestlib
 * instructions each way (docs/benchmarks.md). It receives every
 * exception of its vector, stack growth and lazily mapped memory
 * included.
 * Returns 0 or -EINVAL (vector out of 0..31, or #DF/#MC). */
int dune_register_pgflt_handler(dune_pgflt_cb cb);
int dune_register_intr_handler(int vec, dune_intr_cb cb);
/* From a page-fault handler: hand a fault that is not yours back to dune,
 * which handles it as if no handler were registered (maps the process's
 * memory, grows a stack, or delivers SIGSEGV/SIGBUS with tf's state).
 * Does not return: the thread resumes at tf (or in a signal handler).
 * One VM exit. Returns -EFAULT (tf unreadable), -EPERM (no VM) or
 * -ENOSYS (not inside the guest). */
int dune_pgflt_pass(uintptr_t addr, uint64_t fec, struct dune_tf *tf);

/* ---- Syscall interposition ------------------------------------------ */
/* A syscall handler gets the caller's state: tf->rax = number, arguments
 * in rdi, rsi, rdx, r10, r8, r9; it sets tf->rax to the result (emulate)
 * or calls dune_passthrough_syscall(tf) (run it for real). It may change
 * any of tf, e.g. tf->rip to redirect. */
typedef void (*dune_syscall_cb)(struct dune_tf *tf);

/* Interpose on every syscall the application makes (NULL: stop). The
 * handler runs in the application's own mode and context, on its stack
 * below the red zone; rt_sigreturn, exit, exit_group, clone, clone3,
 * fork, vfork, execve and execveat are never interposed. Cost:
 * the syscall's exit, then no exit to resume. Returns 0 or -EPERM (before
 * dune_init). Not inherited by dune_jump_to_user() code, whose syscalls
 * return to its caller. */
int dune_register_syscall_handler(dune_syscall_cb cb);
/* Run tf's syscall for real and store its result in tf->rax (also
 * returned). Callable from a syscall handler (it is not interposed). */
long dune_passthrough_syscall(struct dune_tf *tf);

/* ---- Running code at guest ring 3 (Dune's jump-to-user) ------------- */
#define DUNE_VEC_SYSCALL 0x100 /* tf->vec after DUNE_RET_SYSCALL */
#define DUNE_RET_SYSCALL 1     /* it executed syscall: tf->rax = number,
				  arguments in tf; tf->rip after it */
#define DUNE_RET_FAULT 2       /* an exception: tf->vec, tf->err; tf->rip
				  at the faulting instruction */
#define DUNE_RET_SIGNAL 3      /* a signal came for this thread: tf holds
				  where the code was; jump again to go on */

/* Run the state in tf (registers, rip, rsp, rflags) at guest ring 3 on
 * page table root (NULL: the current one; else one made by
 * dune_vm_new_root or dune_vm_clone), and return when that code makes a
 * syscall (which is not executed), takes an exception or a signal arrives,
 * with tf updated to its state then. *fault_addr (if not NULL) gets CR2
 * of a #PF. The code runs with an IDT that sends every exception back
 * here, so it has no way into ring 0. Returns DUNE_RET_* or -errno:
 * -EINVAL (root not a page table of ours), -EFAULT (tf unreadable),
 * -EBUSY (called from such code), -ENOSYS (not inside the guest).
 * Cost: two VM exits per round trip. */
int dune_jump_to_user(struct dune_tf *tf, uint64_t *root,
		      uint64_t *fault_addr);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_TRAP_H */
