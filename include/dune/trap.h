/* dune/trap.h: trap frames and trap handlers (ring-0 mode handlers run in
 * the guest kernel; see docs/api.md for what runs where). */
#ifndef DUNE_TRAP_H
#define DUNE_TRAP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Register state saved by guestlib's full trap entry (ring-0 mode). Fields
 * are in the order the entry stub pushes them; offsets are checked against
 * the assembly with _Static_assert. */
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
 *  - ring-0 mode: the handler runs at guest CPL0 in the trap context (on
 *    software KVM that code is emulated: freestanding, integer-only).
 *  - ring-3 mode: guestlib's ring-0 stub upcalls it in ring 3 on the
 *    interrupted stack (below its red zone): ordinary C, libc allowed.
 *    About 40 ring-0 instructions in and 25 out; no VM exit.
 * Returns 0 or -EINVAL (vector out of 0..31, or #DF/#MC). */
int dune_register_pgflt_handler(dune_pgflt_cb cb);
int dune_register_intr_handler(int vec, dune_intr_cb cb);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_TRAP_H */
