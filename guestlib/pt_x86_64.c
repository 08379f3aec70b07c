/* guestlib/pt_x86_64.c: the page-table walker and range mapper (x86-64). */
#include "pt_x86_64.h"

#include <errno.h>

static uint64_t *table_of(struct gl_pt *pt, uint64_t entry)
{
	return pt->pa_to_va(pt->ctx, entry & PTE_ADDR_MASK);
}

/* Intermediate entries grant everything; leaves decide (SDM 4.6: the
 * effective rights are the intersection over all levels). */
#define PT_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

/* Replace the large-page entry *e (at `level`) by a table of 512 entries
 * of level-1 covering the same range with the same flags. */
static int split_large(struct gl_pt *pt, uint64_t *e, int level)
{
	uint64_t pa, base = *e & PTE_ADDR_MASK & ~(PT_LEVEL_SIZE(level) - 1);
	uint64_t flags = *e & PTE_FLAGS_MASK & ~PTE_PS;
	int r = pt->alloc(pt->ctx, &pa);
	if (r)
		return r;
	uint64_t *t = pt->pa_to_va(pt->ctx, pa);
	uint64_t step = PT_LEVEL_SIZE(level - 1);
	for (int i = 0; i < PT_ENTRIES; i++)
		t[i] = (base + i * step) | flags | (level - 1 > 1 ? PTE_PS : 0);
	*e = pa | PT_TABLE_FLAGS;
	return 0;
}

int gl_pt_walk(struct gl_pt *pt, uint64_t va, int level, int alloc,
	       uint64_t **ptep)
{
	uint64_t *t = pt->pa_to_va(pt->ctx, pt->root);
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[PT_INDEX(va, l)];
		if (!(*e & PTE_P)) {
			uint64_t pa;
			int r;
			if (!alloc)
				return -ENOENT;
			r = pt->alloc(pt->ctx, &pa);
			if (r)
				return r;
			*e = pa | PT_TABLE_FLAGS;
		} else if (*e & PTE_PS) {
			int r;
			if (!alloc)
				return -ENOENT;
			r = split_large(pt, e, l);
			if (r)
				return r;
		}
		t = table_of(pt, *e);
	}
	*ptep = &t[PT_INDEX(va, level)];
	return 0;
}

static int range_ok(uint64_t va, uint64_t len)
{
	return !(va & (PAGE_SIZE - 1)) && !(len & (PAGE_SIZE - 1)) &&
	       va + len >= va;
}

int gl_pt_map(struct gl_pt *pt, uint64_t va, uint64_t pa, uint64_t len,
	      uint64_t flags)
{
	if (!range_ok(va, len) || (pa & (PAGE_SIZE - 1)))
		return -EINVAL;
	int large = !!(flags & PTE_PS);
	flags = (flags & ~PTE_PS) | PTE_P;
	while (len) {
		uint64_t *e;
		int level = 1, r;
		if (large && !(va & (LPAGE_SIZE - 1)) &&
		    !(pa & (LPAGE_SIZE - 1)) && len >= LPAGE_SIZE)
			level = 2;
		r = gl_pt_walk(pt, va, level, 1, &e);
		if (r)
			return r;
		/* A table under a 2 MiB slot we now map large is dropped (its
		 * page stays allocated in the pool for simplicity). */
		*e = pa | flags | (level == 2 ? PTE_PS : 0);
		va += PT_LEVEL_SIZE(level);
		pa += PT_LEVEL_SIZE(level);
		len -= PT_LEVEL_SIZE(level);
	}
	return 0;
}

int gl_pt_unmap(struct gl_pt *pt, uint64_t va, uint64_t len)
{
	if (!range_ok(va, len))
		return -EINVAL;
	uint64_t end = va + len;
	while (va < end) {
		/* Skip whole missing subtrees quickly. */
		uint64_t *t = pt->pa_to_va(pt->ctx, pt->root);
		int l;
		for (l = 4; l > 1; l--) {
			uint64_t e = t[PT_INDEX(va, l)];
			if (!(e & PTE_P) || (e & PTE_PS))
				break;
			t = table_of(pt, e);
		}
		uint64_t size = PT_LEVEL_SIZE(l);
		uint64_t next = (va & ~(size - 1)) + size;
		uint64_t *e = &t[PT_INDEX(va, l)];
		if (!(*e & PTE_P) || l == 1) {
			*e = 0;
		} else if (!(va & (size - 1)) && next <= end) {
			*e = 0; /* a whole large page inside the range */
		} else {
			int r = split_large(pt, e, l);
			if (r)
				return r;
			continue; /* walk again into the new table */
		}
		if (next <= va) /* wrapped at the top of the address space */
			break;
		va = next < end ? next : end;
	}
	return 0;
}

uint64_t gl_pt_lookup(struct gl_pt *pt, uint64_t va, int *level)
{
	uint64_t *t = pt->pa_to_va(pt->ctx, pt->root);
	for (int l = 4; l >= 1; l--) {
		uint64_t e = t[PT_INDEX(va, l)];
		if (!(e & PTE_P))
			return 0;
		if (l == 1 || (e & PTE_PS)) {
			if (level)
				*level = l;
			return e;
		}
		t = table_of(pt, e);
	}
	return 0;
}
