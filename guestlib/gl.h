/* guestlib/gl.h: guestlib's internal interface (code that runs in the
 * guest, or builds what the guest CPU reads). */
#ifndef GL_H
#define GL_H

#include <stdint.h>

#include "dune/trap.h"

extern dune_pgflt_cb gl_pgflt_handler;
extern dune_intr_cb gl_intr_handlers[];
extern dune_syscall_cb gl_syscall_handler;
long gl_passthrough(struct dune_tf *tf);
/* How upcalls save the interrupted code's vector state (entry_x86_64.S):
 * GL_FPU_* (layout.h), and an area size that fits it. Set with the VM. */
extern __attribute__((visibility("hidden"))) uint8_t gl_fpu_save;
extern __attribute__((visibility("hidden"))) uint64_t gl_xsave_bytes;

/* Drop libdune's cap space after the VM is gone (libdune/cap.c). Weak:
 * a program that never uses dune/cap.h does not link cap.c at all (and
 * the `dune run` shim leaves it out). */
__attribute__((weak)) void dune_cap_forget(void);

/* dune_is_inside() cached per thread (libdune/dune.c). */
int dune_inside_cached(void);

/* A privileged request from ring 3 (DUNE_PRIV_*); 0 or -1. */
long gl_priv(uint64_t a0, uint64_t a1, int op);

/* Raw hypercall from guest ring 0 (DUNE_PORT_HCALL). */
static inline long gl_hcall(long nr, long a0, long a1, long a2)
{
	long ret = nr;
	__asm__ volatile("outb %%al, %1"
			 : "+a"(ret)
			 : "i"(0xd2), "D"(a0), "S"(a1), "d"(a2)
			 : "memory");
	return ret;
}

#endif /* GL_H */
