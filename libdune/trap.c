/* libdune/trap.c: trap handlers (dune/trap.h). guestlib's exception stubs
 * upcall them without a VM exit (gl_upcall_dispatch below), at the
 * application's CPL on the vCPU's upcall stack, so they are ordinary C
 * code in both modes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dune/abi.h"
#include "dune/trap.h"
#include "dune/vm.h"
#include "gl.h"
#include "sys.h"
#include "vmm.h"

/* entry_x86_64.S builds and reads struct dune_tf by these offsets. */
_Static_assert(offsetof(struct dune_tf, rdi) == 72 &&
		   offsetof(struct dune_tf, vec) == 15 * 8 &&
		   offsetof(struct dune_tf, rip) == 17 * 8 &&
		   sizeof(struct dune_tf) == DUNE_TF_SIZE,
	       "struct dune_tf is the stubs' layout");

extern uint64_t gl_upcall_mask;
uint8_t gl_fpu_save;
uint64_t gl_xsave_bytes = 4096;
void gl_upcall_dispatch(struct dune_tf *tf, uint64_t cr2);

/* Handlers live in ordinary (user-mapped) memory; the upcall reads them. */
dune_pgflt_cb gl_pgflt_handler;
dune_intr_cb gl_intr_handlers[DUNE_NR_VECTORS];
dune_syscall_cb gl_syscall_handler;

/* The stubs upcall vector vec while its bit is set (before dune_init()
 * too: the mask is plain guest memory). */
static int set_handler(int vec, int on)
{
	uint64_t bit = 1ull << vec;
	if (on)
		__atomic_fetch_or(&gl_upcall_mask, bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&gl_upcall_mask, ~bit, __ATOMIC_SEQ_CST);
	return 0;
}

int dune_register_pgflt_handler(dune_pgflt_cb cb)
{
	gl_pgflt_handler = cb;
	return set_handler(DUNE_VEC_PF, cb != NULL || gl_intr_handlers[14]);
}

int dune_register_intr_handler(int vec, dune_intr_cb cb)
{
	if (vec < 0 || vec >= DUNE_NR_VECTORS)
		return -EINVAL;
	if (vec == DUNE_VEC_DF || vec == DUNE_VEC_MC)
		return -EINVAL; /* aborts: nothing to resume */
	gl_intr_handlers[vec] = cb;
	return set_handler(vec, cb != NULL ||
				    (vec == DUNE_VEC_PF && gl_pgflt_handler));
}

int dune_pgflt_pass(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	if (!vmm_g)
		return -EPERM;
	/* The vmm may map the page with more rights than this vCPU's TLB
	 * holds; drop what it holds first (the vmm's own rule, as for
	 * gl_flush_ret: only a present entry can be cached). */
	if (fec & DUNE_PF_P)
		dune_flush_tlb_one(addr);
	return (int)vmm_sys3(DUNE_SYS_PF_PASS, tf, addr, fec);
}

int dune_register_syscall_handler(dune_syscall_cb cb)
{
	if (!vmm_g)
		return -EPERM;
	gl_syscall_handler = cb;
	vmm_set_syscall_upcall(cb != NULL);
	return 0;
}

long dune_passthrough_syscall(struct dune_tf *tf)
{
	return gl_passthrough(tf);
}

void gl_upcall_dispatch(struct dune_tf *tf, uint64_t cr2)
{
	if (tf->vec == DUNE_VEC_SYSCALL && gl_syscall_handler) {
		gl_syscall_handler(tf);
		return;
	}
	if (tf->vec == DUNE_VEC_PF && gl_pgflt_handler) {
		gl_pgflt_handler(cr2, tf->err, tf);
		return;
	}
	if (tf->vec < DUNE_NR_VECTORS && gl_intr_handlers[tf->vec]) {
		gl_intr_handlers[tf->vec](tf);
		return;
	}
	/* The handler went away after the trap: nothing can resume. */
	fprintf(stderr, "dune: exception %lu at %#lx with no handler\n",
		(unsigned long)tf->vec, (unsigned long)tf->rip);
	abort();
}

int dune_jump_to_user(struct dune_tf *tf, uint64_t *root, uint64_t *fault_addr)
{
	long r = vmm_sys3(DUNE_SYS_JUMP_USER, tf, root, fault_addr);
	return (int)r;
}
