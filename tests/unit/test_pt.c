/* tests/unit/test_pt.c: the x86-64 page-table walker, mapper, unmapper and
 * lookup (guestlib/pt_x86_64.c) on a fake physical memory, without KVM. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt_x86_64.h"

/* A fake physical memory: POOL_PAGES table pages at physical address
 * POOL_PA, handed out in order; `limit` simulates exhaustion. */
#define POOL_PAGES 64
#define POOL_PA 0x40000000ull

struct pool {
	uint8_t *mem;
	int used, limit;
};

static struct pool pool;
static struct gl_pt pt;

static void *pool_va(void *ctx, uint64_t pa)
{
	struct pool *p = ctx;
	cr_assert(pa >= POOL_PA && pa < POOL_PA + POOL_PAGES * PAGE_SIZE,
		  "table pa %#llx outside the pool", (unsigned long long)pa);
	cr_assert_eq(pa & (PAGE_SIZE - 1), 0, "table pa not page aligned");
	return p->mem + (pa - POOL_PA);
}

static int pool_alloc(void *ctx, uint64_t *pa)
{
	struct pool *p = ctx;
	if (p->used >= p->limit)
		return -ENOMEM;
	memset(p->mem + (uint64_t)p->used * PAGE_SIZE, 0, PAGE_SIZE);
	*pa = POOL_PA + (uint64_t)p->used * PAGE_SIZE;
	p->used++;
	return 0;
}

static void setup(void)
{
	pool.mem = aligned_alloc(PAGE_SIZE, POOL_PAGES * PAGE_SIZE);
	cr_assert_not_null(pool.mem);
	/* Garbage everywhere: the code must rely on alloc's zeroing only. */
	memset(pool.mem, 0xa5, POOL_PAGES * PAGE_SIZE);
	pool.used = 0;
	pool.limit = POOL_PAGES;
	pt = (struct gl_pt){0, pool_va, pool_alloc, &pool};
	cr_assert_eq(pool_alloc(&pool, &pt.root), 0);
}

static void teardown(void)
{
	free(pool.mem);
}

TestSuite(pt, .init = setup, .fini = teardown);

#define RW_USER (PTE_W | PTE_U | PTE_NX)
#define GIB (1ull << 30)

/* Check va translates to pa with exactly `flags` (plus P) at `level`. */
static void expect_map(uint64_t va, uint64_t pa, uint64_t flags, int level)
{
	int l = -1;
	uint64_t e = gl_pt_lookup(&pt, va, &l);
	cr_assert(e & PTE_P, "va %#llx not mapped", (unsigned long long)va);
	cr_assert_eq(l, level, "va %#llx mapped at level %d, want %d",
		     (unsigned long long)va, l, level);
	uint64_t size = PT_LEVEL_SIZE(level);
	cr_assert_eq((e & PTE_ADDR_MASK) + (va & (size - 1)), pa,
		     "va %#llx -> pa %#llx, want %#llx", (unsigned long long)va,
		     (unsigned long long)((e & PTE_ADDR_MASK) + (va & (size - 1))),
		     (unsigned long long)pa);
	uint64_t want = flags | PTE_P | (level > 1 ? PTE_PS : 0);
	cr_assert_eq(e & PTE_FLAGS_MASK, want, "va %#llx flags %#llx want %#llx",
		     (unsigned long long)va,
		     (unsigned long long)(e & PTE_FLAGS_MASK),
		     (unsigned long long)want);
}

static void expect_unmapped(uint64_t va)
{
	cr_assert_eq(gl_pt_lookup(&pt, va, NULL), 0, "va %#llx still mapped",
		     (unsigned long long)va);
}

Test(pt, index_macros)
{
	uint64_t va = (5ull << 39) | (6ull << 30) | (7ull << 21) | (8ull << 12) |
		      0x123;
	cr_assert_eq(PT_INDEX(va, 4), 5);
	cr_assert_eq(PT_INDEX(va, 3), 6);
	cr_assert_eq(PT_INDEX(va, 2), 7);
	cr_assert_eq(PT_INDEX(va, 1), 8);
	cr_assert_eq(PT_LEVEL_SIZE(1), PAGE_SIZE);
	cr_assert_eq(PT_LEVEL_SIZE(2), LPAGE_SIZE);
	cr_assert_eq(PT_LEVEL_SIZE(3), HPAGE_SIZE);
}

Test(pt, walk_without_alloc_on_empty_table)
{
	uint64_t *e = NULL;
	cr_assert_eq(gl_pt_walk(&pt, 0x400000, 1, 0, &e), -ENOENT);
	cr_assert_eq(pool.used, 1, "a non-allocating walk allocated");
	cr_assert_eq(gl_pt_lookup(&pt, 0x400000, NULL), 0);
}

Test(pt, walk_alloc_builds_tables_with_table_flags)
{
	uint64_t *e = NULL;
	uint64_t va = 0x7f1234567000ull;
	cr_assert_eq(gl_pt_walk(&pt, va, 1, 1, &e), 0);
	cr_assert_eq(pool.used, 4, "PML4 + PDPT + PD + PT");
	cr_assert_eq(*e, 0, "new leaf slot must be zero");
	/* Intermediate entries grant P|W|U; leaves decide. */
	uint64_t *t = pool_va(&pool, pt.root);
	for (int l = 4; l > 1; l--) {
		uint64_t ent = t[PT_INDEX(va, l)];
		cr_assert_eq(ent & PTE_FLAGS_MASK, PTE_P | PTE_W | PTE_U,
			     "level %d entry flags %#llx", l,
			     (unsigned long long)(ent & PTE_FLAGS_MASK));
		t = pool_va(&pool, ent & PTE_ADDR_MASK);
	}
	cr_assert_eq(&t[PT_INDEX(va, 1)], e, "walk returned the wrong slot");
	/* A second walk finds the same slot without allocating. */
	uint64_t *e2 = NULL;
	cr_assert_eq(gl_pt_walk(&pt, va, 1, 0, &e2), 0);
	cr_assert_eq(e2, e);
	cr_assert_eq(pool.used, 4);
}

Test(pt, map_4k_pages)
{
	uint64_t va = 0x555555554000ull, pa = 0x123456000ull;
	cr_assert_eq(gl_pt_map(&pt, va, pa, 3 * PAGE_SIZE, RW_USER), 0);
	for (int i = 0; i < 3; i++)
		expect_map(va + i * PAGE_SIZE + 0x10, pa + i * PAGE_SIZE + 0x10,
			   RW_USER, 1);
	expect_unmapped(va - PAGE_SIZE);
	expect_unmapped(va + 3 * PAGE_SIZE);
}

Test(pt, map_replaces_existing_entries)
{
	uint64_t va = 0x10000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, 2 * PAGE_SIZE, RW_USER), 0);
	cr_assert_eq(gl_pt_map(&pt, va, 0x9000000ull, PAGE_SIZE, PTE_U), 0);
	expect_map(va, 0x9000000ull, PTE_U, 1);
	expect_map(va + PAGE_SIZE, va + PAGE_SIZE, RW_USER, 1);
}

Test(pt, map_2m_pages_when_aligned)
{
	uint64_t va = 0x40000000ull; /* 1 GiB: 2 MiB aligned */
	int before = pool.used;
	cr_assert_eq(gl_pt_map(&pt, va, va, 2 * LPAGE_SIZE, RW_USER | PTE_PS),
		     0);
	/* PDPT + PD only: no PT for large pages. */
	cr_assert_eq(pool.used - before, 2);
	expect_map(va, va, RW_USER, 2);
	expect_map(va + LPAGE_SIZE + 0x12345, va + LPAGE_SIZE + 0x12345, RW_USER,
		   2);
	expect_unmapped(va + 2 * LPAGE_SIZE);
}

Test(pt, map_large_flag_mixes_sizes_at_unaligned_edges)
{
	/* [2M-8K, 4M+8K): two 4 KiB pages, one 2 MiB page, two 4 KiB pages. */
	uint64_t va = LPAGE_SIZE - 2 * PAGE_SIZE;
	uint64_t len = LPAGE_SIZE + 4 * PAGE_SIZE;
	cr_assert_eq(gl_pt_map(&pt, va, va, len, PTE_U | PTE_PS), 0);
	expect_map(va, va, PTE_U, 1);
	expect_map(va + PAGE_SIZE, va + PAGE_SIZE, PTE_U, 1);
	expect_map(LPAGE_SIZE, LPAGE_SIZE, PTE_U, 2);
	expect_map(2 * LPAGE_SIZE, 2 * LPAGE_SIZE, PTE_U, 1);
	expect_map(2 * LPAGE_SIZE + PAGE_SIZE, 2 * LPAGE_SIZE + PAGE_SIZE, PTE_U,
		   1);
	expect_unmapped(va - PAGE_SIZE);
	expect_unmapped(va + len);
}

Test(pt, map_large_flag_with_misaligned_pa_uses_4k)
{
	/* va is 2 MiB aligned but pa is not: only 4 KiB pages are possible. */
	uint64_t va = 0x40000000ull, pa = 0x80001000ull;
	cr_assert_eq(gl_pt_map(&pt, va, pa, LPAGE_SIZE, RW_USER | PTE_PS), 0);
	expect_map(va, pa, RW_USER, 1);
	expect_map(va + LPAGE_SIZE - PAGE_SIZE, pa + LPAGE_SIZE - PAGE_SIZE,
		   RW_USER, 1);
}

Test(pt, map_without_large_flag_never_uses_2m)
{
	uint64_t va = 0x40000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, LPAGE_SIZE, RW_USER), 0);
	expect_map(va, va, RW_USER, 1);
	expect_map(va + LPAGE_SIZE - 1, va + LPAGE_SIZE - 1, RW_USER, 1);
}

Test(pt, walk_alloc_splits_2m_page_keeping_translation)
{
	uint64_t va = 0x40000000ull, pa = 0x7fe00000ull;
	cr_assert_eq(gl_pt_map(&pt, va, pa, LPAGE_SIZE, PTE_W | PTE_U | PTE_PS),
		     0);
	uint64_t *e = NULL;
	/* A non-allocating walk cannot go below a large page. */
	cr_assert_eq(gl_pt_walk(&pt, va + 5 * PAGE_SIZE, 1, 0, &e), -ENOENT);
	int before = pool.used;
	cr_assert_eq(gl_pt_walk(&pt, va + 5 * PAGE_SIZE, 1, 1, &e), 0);
	cr_assert_eq(pool.used - before, 1, "one PT for the split");
	/* Every 4 KiB of the old 2 MiB page: same pa, same flags, level 1. */
	for (uint64_t off = 0; off < LPAGE_SIZE; off += PAGE_SIZE)
		expect_map(va + off, pa + off, PTE_W | PTE_U, 1);
	cr_assert_eq(*e & PTE_ADDR_MASK, pa + 5 * PAGE_SIZE);
}

Test(pt, unmap_inside_2m_page_splits_it)
{
	uint64_t va = 0x40000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, 2 * LPAGE_SIZE, RW_USER | PTE_PS),
		     0);
	/* Punch [va + 1M, va + 1M + 8K) out of the first large page. */
	uint64_t hole = va + (1ull << 20);
	cr_assert_eq(gl_pt_unmap(&pt, hole, 2 * PAGE_SIZE), 0);
	expect_unmapped(hole);
	expect_unmapped(hole + PAGE_SIZE);
	expect_map(hole - PAGE_SIZE, hole - PAGE_SIZE, RW_USER, 1);
	expect_map(hole + 2 * PAGE_SIZE, hole + 2 * PAGE_SIZE, RW_USER, 1);
	expect_map(va, va, RW_USER, 1);
	expect_map(va + LPAGE_SIZE - PAGE_SIZE, va + LPAGE_SIZE - PAGE_SIZE,
		   RW_USER, 1);
	/* The second large page is untouched. */
	expect_map(va + LPAGE_SIZE, va + LPAGE_SIZE, RW_USER, 2);
}

Test(pt, unmap_range_spanning_two_large_pages_partially)
{
	uint64_t va = 0x40000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, 2 * LPAGE_SIZE, RW_USER | PTE_PS),
		     0);
	/* [va + 2M - 4K, va + 2M + 4K): the tail of one, head of the next. */
	cr_assert_eq(gl_pt_unmap(&pt, va + LPAGE_SIZE - PAGE_SIZE,
				 2 * PAGE_SIZE),
		     0);
	expect_map(va + LPAGE_SIZE - 2 * PAGE_SIZE,
		   va + LPAGE_SIZE - 2 * PAGE_SIZE, RW_USER, 1);
	expect_unmapped(va + LPAGE_SIZE - PAGE_SIZE);
	expect_unmapped(va + LPAGE_SIZE);
	expect_map(va + LPAGE_SIZE + PAGE_SIZE, va + LPAGE_SIZE + PAGE_SIZE,
		   RW_USER, 1);
}

Test(pt, unmap_whole_large_page_needs_no_table)
{
	uint64_t va = 0x40000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, 2 * LPAGE_SIZE, RW_USER | PTE_PS),
		     0);
	int before = pool.used;
	cr_assert_eq(gl_pt_unmap(&pt, va, LPAGE_SIZE), 0);
	cr_assert_eq(pool.used, before, "unmapping a whole large page split it");
	expect_unmapped(va);
	expect_unmapped(va + LPAGE_SIZE - 1);
	expect_map(va + LPAGE_SIZE, va + LPAGE_SIZE, RW_USER, 2);
}

Test(pt, unmap_whole_user_half_skips_missing_subtrees)
{
	/* Scattered mappings; unmapping the whole 128 TiB must finish (it can
	 * only do so by skipping empty subtrees) and clear all of them. */
	uint64_t vas[] = {0x1000, 0x40000000ull, 0x555555554000ull,
			  0x7ffffffff000ull};
	for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++)
		cr_assert_eq(gl_pt_map(&pt, vas[i], vas[i], PAGE_SIZE, RW_USER),
			     0);
	cr_assert_eq(gl_pt_map(&pt, 0x200000000ull, 0x200000000ull, LPAGE_SIZE,
			       RW_USER | PTE_PS),
		     0);
	int before = pool.used;
	cr_assert_eq(gl_pt_unmap(&pt, 0, GVA_USER_END), 0);
	cr_assert_eq(pool.used, before);
	for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++)
		expect_unmapped(vas[i]);
	expect_unmapped(0x200000000ull);
	/* Tables are kept: remapping allocates nothing. */
	cr_assert_eq(gl_pt_map(&pt, 0x1000, 0x1000, PAGE_SIZE, RW_USER), 0);
	cr_assert_eq(pool.used, before);
}

Test(pt, unmap_last_page_of_user_half)
{
	uint64_t top = GVA_USER_END - PAGE_SIZE;
	cr_assert_eq(gl_pt_map(&pt, top - PAGE_SIZE, 0x1000, 2 * PAGE_SIZE,
			       PTE_W),
		     0);
	expect_map(top, 0x2000, PTE_W, 1);
	cr_assert_eq(gl_pt_unmap(&pt, top, PAGE_SIZE), 0);
	expect_unmapped(top);
	expect_map(top - PAGE_SIZE, 0x1000, PTE_W, 1);
}

Test(pt, rejects_unaligned_arguments)
{
	cr_assert_eq(gl_pt_map(&pt, 0x1001, 0x1000, PAGE_SIZE, 0), -EINVAL);
	cr_assert_eq(gl_pt_map(&pt, 0x1000, 0x1001, PAGE_SIZE, 0), -EINVAL);
	cr_assert_eq(gl_pt_map(&pt, 0x1000, 0x1000, 100, 0), -EINVAL);
	cr_assert_eq(gl_pt_map(&pt, 0xfffffffffffff000ull, 0, 2 * PAGE_SIZE, 0),
		     -EINVAL, "a range that wraps around must be refused");
	cr_assert_eq(gl_pt_unmap(&pt, 0x1800, PAGE_SIZE), -EINVAL);
	cr_assert_eq(gl_pt_unmap(&pt, 0x1000, 0x800), -EINVAL);
	cr_assert_eq(pool.used, 1, "a refused call allocated tables");
}

Test(pt, map_reports_enomem_when_pool_is_exhausted)
{
	pool.limit = 3; /* root + PDPT + PD: no PT */
	cr_assert_eq(gl_pt_map(&pt, 0x40000000ull, 0x40000000ull, PAGE_SIZE,
			       RW_USER),
		     -ENOMEM);
	expect_unmapped(0x40000000ull);
	/* A large page needs no PT and still fits. */
	cr_assert_eq(gl_pt_map(&pt, 0x40000000ull, 0x40000000ull, LPAGE_SIZE,
			       RW_USER | PTE_PS),
		     0);
	expect_map(0x40000000ull, 0x40000000ull, RW_USER, 2);
}

Test(pt, unmap_reports_enomem_when_a_split_cannot_allocate)
{
	uint64_t va = 0x40000000ull;
	cr_assert_eq(gl_pt_map(&pt, va, va, LPAGE_SIZE, RW_USER | PTE_PS), 0);
	pool.limit = pool.used;
	cr_assert_eq(gl_pt_unmap(&pt, va, PAGE_SIZE), -ENOMEM);
	/* Nothing changed: the large page still translates. */
	expect_map(va, va, RW_USER, 2);
}

Test(pt, lookup_reports_level)
{
	cr_assert_eq(gl_pt_map(&pt, 0x40000000ull, 0x40000000ull, LPAGE_SIZE,
			       PTE_PS),
		     0);
	cr_assert_eq(gl_pt_map(&pt, 0x1000, 0x2000, PAGE_SIZE, 0), 0);
	int l = 0;
	cr_assert_neq(gl_pt_lookup(&pt, 0x40000000ull + 0x1000, &l), 0);
	cr_assert_eq(l, 2);
	cr_assert_neq(gl_pt_lookup(&pt, 0x1000, &l), 0);
	cr_assert_eq(l, 1);
	/* NULL level pointer is allowed. */
	cr_assert_neq(gl_pt_lookup(&pt, 0x1000, NULL), 0);
}
