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

/* Register (cb != NULL) or remove (NULL) a ring-0 handler. Ring-0 mode
 * only: handlers run at guest CPL0 in the trap context, so they must be
 * freestanding code on software KVM. Returns 0, -EINVAL (bad vector),
 * -ENOTSUP (ring-3 mode: use signals or the upcall API). */
int dune_register_pgflt_handler(dune_pgflt_cb cb);
int dune_register_intr_handler(int vec, dune_intr_cb cb);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_TRAP_H */
