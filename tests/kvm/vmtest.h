/* tests/kvm/vmtest.h: helpers shared by the privileged-API tests
 * (test_vm.c, test_traps.c): guest-only regions, page-table snapshots,
 * exit counting and the ring-0 skip rule. */
#ifndef DUNE_TEST_VMTEST_H
#define DUNE_TEST_VMTEST_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "dune/dune.h"
#include "dune/vm.h"

#define PG 4096ul
#define LPG (2ul << 20)
/* The permissions of an ordinary read-write page the app (ring 3) uses. */
#define RW (PERM_R | PERM_W | PERM_U)
#define RO (PERM_R | PERM_U)

/* A host PROT_NONE, MAP_NORESERVE reservation of len bytes, 2 MiB
 * aligned. What dune_vm_map_pages() maps inside it is guest-only memory:
 * the host keeps it PROT_NONE (dune/vm.h). */
static inline char *reserve(size_t len)
{
	size_t tot = len + LPG;
	char *p = mmap(NULL, tot, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap PROT_NONE reservation");
	uintptr_t a = ((uintptr_t)p + LPG - 1) & ~(LPG - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	uintptr_t end = (uintptr_t)p + tot;
	if (end > a + len)
		munmap((void *)(a + len), end - (a + len));
	return (char *)a;
}

/* VM exits so far (dune_get_stats; reading it costs none). */
static inline uint64_t exits_now(void)
{
	struct dune_stats s;
	dune_get_stats(&s);
	return s.exits;
}

/* Every leaf dune_vm_page_walk() reports in a range, with its value. */
#define SNAP_MAX 1100
struct pt_snap {
	size_t n;
	uintptr_t va[SNAP_MAX];
	ptent_t pte[SNAP_MAX];
};

static inline int snap_cb(const void *arg, ptent_t *e, void *va)
{
	struct pt_snap *s = (struct pt_snap *)(uintptr_t)arg;
	if (s->n < SNAP_MAX) {
		s->va[s->n] = (uintptr_t)va;
		s->pte[s->n] = *e;
	}
	s->n++;
	return 0;
}

static inline void snap(ptent_t *root, struct pt_snap *s, const void *start,
			size_t len)
{
	memset(s, 0, sizeof(*s));
	int r = dune_vm_page_walk(root, (void *)(uintptr_t)start,
				  (char *)(uintptr_t)start + len, snap_cb, s);
	cr_assert_eq(r, 0, "page_walk for a snapshot: %d", r);
	cr_assert_leq(s->n, SNAP_MAX);
}

static inline void assert_snap_eq(const struct pt_snap *a,
				  const struct pt_snap *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %zu leaves before, %zu after", what,
		     a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		cr_assert(a->va[i] == b->va[i] && a->pte[i] == b->pte[i],
			  "%s: leaf %#lx=%#llx became %#lx=%#llx", what,
			  (unsigned long)a->va[i], (unsigned long long)a->pte[i],
			  (unsigned long)b->va[i],
			  (unsigned long long)b->pte[i]);
}

/* Full ring-0 variants run ordinary C (SSE/AVX through libc) at guest
 * CPL0, which only hardware virtualization can execute. */
static inline void skip_ring0_unless_hw_virt(void)
{
	struct dune_host_info hi;
	int r = dune_host_info(&hi);
	cr_assert_eq(r, 0, "dune_host_info: %d", r);
	if (!hi.hw_virt)
		cr_skip_test("guest ring 0 is emulated on this software KVM "
			     "and cannot run SSE/AVX code");
}

#endif
