/* tests/kvm/test_known_bugs.c: reproducers of library bugs this suite
 * found that are not fixed yet. Each asserts the correct behaviour and
 * fails until the bug is fixed; ctest shows the binary on its own so the
 * rest of the suite stays green and readable. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

#define PG 4096ul

/* KNOWN BUG: at the memslot cap, mprotect() and munmap() return ENOMEM
 * although the host change was already made (vmm/syscall.c: the call is
 * executed, then sync_result() turns the failed memslot sync into -ENOMEM
 * and undoes nothing; only mmap is undone). A failing call must leave the
 * mapping unchanged, or else report success: the return value must agree
 * with the process's mappings. */
Test(known_bug, memslot_enomem_result_matches_host_mappings, .timeout = 60)
{
	const int npages = 1024;
	setenv("DUNE_MAX_MEMSLOTS", "64", 1);
	enter_or_fail(DUNE_MODE_RING3);
	char *big = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(big, MAP_FAILED);
	memset(big, 1, 16 * PG);
	/* A small mapping fenced by PROT_NONE pages: mremap must move it. */
	char *fence = mmap(NULL, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	cr_assert_neq(fence, MAP_FAILED);
	char *small = fence + PG;
	cr_assert_eq(mprotect(small, 4 * PG, PROT_READ | PROT_WRITE), 0);
	small[0] = 's';
	char *region = mmap(NULL, npages * PG, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(region, MAP_FAILED);
	int i, r = 0;
	for (i = 0; i < npages / 2 && !r; i++)
		r = mprotect(region + 2 * i * PG, PG, PROT_READ | PROT_WRITE);
	cr_assert_eq(r, -1, "the memslot cap was never reached");
	cr_assert_eq(errno, ENOMEM);
	char *failed = region + 2 * (i - 1) * PG;

	/* 1. mprotect(RW) that needed a new slot. */
	int prot = host_prot(failed);
	cr_expect_eq(prot, PROT_NONE,
		     "mprotect(PROT_READ|PROT_WRITE) returned ENOMEM but the "
		     "host page is now prot %d (PROT_NONE = 0 expected)", prot);
	/* 2. munmap splitting a mapped range (one slot becomes two). */
	errno = 0;
	r = munmap(big + 8 * PG, PG);
	int e = errno;
	prot = host_prot(big + 8 * PG);
	cr_expect_eq(r == 0, prot == -1,
		     "munmap returned %d (%s) but the page is %s", r,
		     r ? strerror(e) : "ok", prot == -1 ? "unmapped" : "mapped");
	/* 3. mprotect(PROT_NONE) splitting a mapped range. */
	errno = 0;
	r = mprotect(big + 4 * PG, PG, PROT_NONE);
	e = errno;
	prot = host_prot(big + 4 * PG);
	cr_expect_eq(r == 0, prot == PROT_NONE,
		     "mprotect(PROT_NONE) returned %d (%s) but the host page "
		     "has prot %d", r, r ? strerror(e) : "ok", prot);
	/* 4. mremap that moves a mapping to a place needing a new slot. */
	errno = 0;
	char *moved = mremap(small, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
	e = errno;
	prot = host_prot(small);
	if (moved == MAP_FAILED)
		cr_expect_neq(prot, -1,
			      "mremap failed (%s) but the old range is gone",
			      strerror(e));
	else
		cr_expect_eq(moved[0], 's');
}
