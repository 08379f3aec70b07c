/* guestlib/trap.c: ring-0 trap dispatch (ring-0 mode). Runs at guest CPL0
 * inside the trap context: freestanding, integer-only, no libc. */
#include <stddef.h>
#include <stdint.h>

#include "dune/abi.h"
#include "dune/trap.h"
#include "gl.h"

_Static_assert(offsetof(struct dune_tf, vec) == 15 * 8,
	       "entry_x86_64.S pushes 15 GPRs below vec");
_Static_assert(offsetof(struct dune_tf, rip) == 17 * 8,
	       "the CPU frame follows vec/err");
_Static_assert(sizeof(struct dune_tf) == 22 * 8, "dune_tf size");

/* Handlers live in ordinary (user-mapped) memory; ring 0 reads them. */
dune_pgflt_cb gl_pgflt_handler;
dune_intr_cb gl_intr_handlers[DUNE_NR_VECTORS];
dune_syscall_cb gl_syscall_handler;

static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* Returns 1 if a handler took the trap (resume from tf), 0 to exit to the
 * vmm with the original registers. */
int gl_trap_dispatch(struct dune_tf *tf)
{
	if (tf->vec == DUNE_VEC_PF && gl_pgflt_handler) {
		gl_pgflt_handler(read_cr2(), tf->err, tf);
		return 1;
	}
	if (tf->vec < DUNE_NR_VECTORS && gl_intr_handlers[tf->vec]) {
		gl_intr_handlers[tf->vec](tf);
		return 1;
	}
	return 0;
}
