/* tests/kvm/test_ring0.c: ring-0 mode (DUNE_MODE_RING0) with freestanding
 * payloads: raw syscalls, an in-guest #PF handler, hypercalls. The payload
 * ends the process; the exit code is the verdict (R0_OK = every check of
 * the payload passed, anything else names the failed check). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dune/dune.h"
#include "dune/abi.h"
#include "dune/trap.h"
#include "helpers.h"
#include "ring0_payload.h"

static void init_ring0(void)
{
	int r = dune_init(DUNE_MODE_RING0, DUNE_INIT_QUIET);
	cr_assert_eq(r, 0, "dune_init(RING0): %s (%s)", strerror(-r),
		     dune_strerror_detail());
	cr_assert_eq(dune_get_mode(), DUNE_MODE_RING0);
}

Test(ring0, raw_syscalls, .exit_code = R0_OK, .timeout = 60)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct r0_args a = {p[1], p[0], (long)getpid()};
	init_ring0();
	r0_syscalls(&a);
}

Test(ring0, page_fault_handler_skips_faulting_instruction,
     .exit_code = R0_OK, .timeout = 60)
{
	/* The address really is unmapped in the process (msync: ENOMEM). */
	cr_assert_eq(msync((void *)(uintptr_t)R0_FAULT_VA, 4096, MS_ASYNC), -1);
	cr_assert_eq(errno, ENOMEM, "%#llx is mapped",
		     (unsigned long long)R0_FAULT_VA);
	init_ring0();
	cr_assert_eq(dune_register_pgflt_handler(r0_pgflt_handler), 0);
	r0_pagefault();
}

Test(ring0, unhandled_page_fault_is_sigsegv, .signal = SIGSEGV,
     .timeout = 60)
{
	cr_assert_eq(msync((void *)(uintptr_t)R0_FAULT_VA, 4096, MS_ASYNC), -1);
	init_ring0();
	r0_unhandled_fault();
}

Test(ring0, intr_handler_skips_ud2, .exit_code = R0_OK, .timeout = 60)
{
	init_ring0();
	cr_assert_eq(dune_register_intr_handler(6, r0_ud_handler), 0);
	r0_invalid_opcode();
}

Test(ring0, unknown_hypercall_returns_enosys, .exit_code = R0_OK,
     .timeout = 60)
{
	init_ring0();
	r0_hypercalls();
}

Test(ring0, exit_hypercall_ends_process, .exit_code = R0_HC_EXIT_CODE,
     .timeout = 60)
{
	init_ring0();
	r0_hc_exit();
}

Test(ring0, handler_vectors_are_checked)
{
	cr_assert_eq(dune_init(DUNE_MODE_RING3, DUNE_INIT_QUIET), 0);
	cr_assert_eq(dune_register_intr_handler(DUNE_NR_VECTORS, NULL), -EINVAL);
	cr_assert_eq(dune_register_intr_handler(-1, NULL), -EINVAL);
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_DF, NULL), -EINVAL);
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_MC, NULL), -EINVAL);
	/* Ring-3 mode takes handlers too (upcalled in ring 3). */
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_UD, NULL), 0);
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
}

static int cpl_now(void)
{
	unsigned short cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* glibc's printf/malloc use SSE/AVX, which this host's ring-0 emulator
 * cannot execute: only meaningful with VT-x/AMD-V. */
Test(ring0, full_libc_in_ring0, .timeout = 60)
{
	struct dune_host_info hi;
	int r = dune_host_info(&hi);
	cr_assert_eq(r, 0, "dune_host_info: %s", strerror(-r));
	if (!hi.hw_virt)
		cr_skip_test("guest ring 0 is emulated on this software KVM and "
			     "cannot run SSE/AVX libc code");
	enter_or_fail(DUNE_MODE_RING0);
	cr_assert_eq(cpl_now(), 0, "not in ring 0");
	char *m = malloc(1000);
	cr_assert_not_null(m);
	int n = snprintf(m, 1000, "%s %d %.1f", "ring0", 7, 1.5);
	cr_assert_eq(n, 11);
	cr_assert_str_eq(m, "ring0 7 1.5");
	free(m);
	cr_assert_gt(printf("printf in ring 0\n"), 0);
	cr_assert_eq(fflush(stdout), 0);
	errno = 0;
	cr_assert_null(fopen("/nonexistent-dune-test", "r"));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(cpl_now(), 0, "left ring 0");
}
