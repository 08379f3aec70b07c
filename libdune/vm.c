/* libdune/vm.c: the page-table, TLB and accessed/dirty-bit API
 * (dune/vm.h). Runs in the guest (or natively before entry) and edits
 * page-table pages directly; it shares the vmm's lock and page pool. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "dune/vm.h"
#include "gl.h"
#include "sys.h"
#include "vmm.h"

/* Our software bits (ignored by the CPU in 4-level paging, SDM 4.5). */
#define PTE_COW (1ull << 52)
#define PTE_NONE (1ull << 53) /* mapped, but PERM_NONE: P is clear */
_Static_assert(DUNE_PTE_COW == PTE_COW, "dune/vm.h names the COW bit");

#define PERM_ALL                                                               \
	(PERM_R | PERM_W | PERM_X | PERM_U | PERM_UC | PERM_COW | PERM_USR1 |  \
	 PERM_USR2 | PERM_USR3 | PERM_BIG | PERM_BIG_1GB)

static void shootdown(void);
static __thread ptent_t *cur_root; /* this thread's CR3, NULL = pgroot */

ptent_t *dune_pgroot(void)
{
	return vmm_g ? (ptent_t *)(uintptr_t)vmm_g->pt.root : NULL;
}

static struct gl_pt view(ptent_t *root)
{
	struct gl_pt pt = vmm_g->pt;
	pt.root = (uint64_t)(uintptr_t)(root ? root : dune_pgroot());
	return pt;
}

static uint64_t perm_bits(int perm)
{
	uint64_t f = 0;
	if (perm & PERM_W && !(perm & PERM_COW))
		f |= PTE_W;
	if (perm & PERM_COW)
		f |= PTE_COW;
	if (!(perm & PERM_X))
		f |= PTE_NX;
	if (perm & PERM_U)
		f |= PTE_U;
	if (perm & PERM_UC)
		f |= PTE_PCD | PTE_PWT;
	if (perm & PERM_USR1)
		f |= PTE_AVAIL0;
	if (perm & PERM_USR2)
		f |= PTE_AVAIL1;
	if (perm & PERM_USR3)
		f |= PTE_AVAIL2;
	/* Any access right makes the page present; PERM_NONE keeps the
	 * mapping but not P. */
	f |= (perm & (PERM_R | PERM_W | PERM_X)) ? PTE_P : PTE_NONE;
	return f;
}

static int page_level(int perm)
{
	return perm & PERM_BIG_1GB ? 3 : perm & PERM_BIG ? 2 : 1;
}

/* Checks shared by every range call. */
static int check_range(uint64_t va, size_t len, int perm, int level)
{
	uint64_t size = PT_LEVEL_SIZE(level);
	if (!vmm_g)
		return -EPERM;
	if (perm & ~PERM_ALL || ((perm & PERM_BIG) && (perm & PERM_BIG_1GB)))
		return -EINVAL;
	if ((perm & PERM_BIG_1GB) && !vmm_g->gbpages)
		return -ENOTSUP;
	if (!len || (va & (size - 1)) || (len & (size - 1)))
		return -EINVAL;
	if (va + len < va)
		return -EOVERFLOW;
	if (va + len > GVA_USER_END)
		return -EFAULT;
	return 0;
}

/* Walk without changing anything: the entry mapping va at `level`, and
 * whether a larger page or a lower-level table is in the way. */
enum slot_state { SLOT_FREE, SLOT_LEAF, SLOT_LARGER, SLOT_TABLE };

static enum slot_state probe_slot(ptent_t *root, uint64_t va, int level)
{
	uint64_t *t = root;
	for (int l = 4; l >= level; l--) {
		uint64_t e = t[PT_INDEX(va, l)];
		if (!(e & (PTE_P | PTE_NONE)))
			return SLOT_FREE;
		if (l == level)
			return (l == 1 || (e & PTE_PS)) ? SLOT_LEAF
							: SLOT_TABLE;
		if (e & PTE_PS)
			return SLOT_LARGER;
		t = (uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK);
	}
	return SLOT_FREE;
}

/* Tables a mapping of [va, va+len) at `level` may need, at most. */
static uint64_t tables_needed(uint64_t va, size_t len, int level)
{
	uint64_t n = 0;
	for (int l = level + 1; l <= 4; l++)
		n += (len >> PT_LEVEL_SHIFT(l)) + 2;
	(void)va;
	return n;
}

static int map_range(ptent_t *root, uint64_t va, size_t len, uint64_t pa,
		     int perm, int fresh)
{
	int level = page_level(perm);
	uint64_t size = PT_LEVEL_SIZE(level);
	int r = check_range(va, len, perm, level);
	if (r)
		return r;
	if (!fresh && ((pa & (size - 1)) || pa + len < pa))
		return pa + len < pa ? -EOVERFLOW : -EINVAL;
	struct gl_pt pt = view(root);
	vmm_mem_lock(vmm_g);
	/* Validate everything first: nothing changes on error. */
	for (uint64_t a = va; a < va + len; a += size) {
		enum slot_state st =
		    probe_slot((ptent_t *)(uintptr_t)pt.root, a, level);
		if (st == SLOT_LARGER || st == SLOT_TABLE) {
			r = -EBUSY;
			goto out;
		}
	}
	if (level == 3 && fresh) {
		r = -ENOMEM; /* the pool has no 1 GiB frames */
		goto out;
	}
	/* 4 KiB frames and tables share the pool; 2 MiB frames come from its
	 * top, so the tables must fit in what they leave. */
	uint64_t small = tables_needed(va, len, level) +
			 (fresh && level == 1 ? len / PAGE_SIZE : 0);
	uint64_t large = fresh && level == 2 ? len / LPAGE_SIZE : 0;
	if (vmm_lpool_avail(vmm_g) < large ||
	    vmm_pool_avail(vmm_g) < small + large * (LPAGE_SIZE / PAGE_SIZE)) {
		r = -ENOMEM;
		goto out;
	}
	uint64_t bits = perm_bits(perm) | (level > 1 ? PTE_PS : 0);
	for (uint64_t a = va; a < va + len; a += size) {
		uint64_t *e, frame = pa + (a - va);
		if (fresh) {
			r = level == 2 ? vmm_lpage_alloc(vmm_g, &frame)
				       : vmm_pt_alloc(vmm_g, &frame);
			if (r)
				goto out; /* only 2 MiB frames can run out here
					   */
		}
		r = gl_pt_walk(&pt, a, level, 1, &e);
		if (r)
			goto out;
		*e = frame | bits;
	}
out:
	vmm_mem_unlock(vmm_g);
	if (!r) {
		dune_flush_tlb_range(va, len);
		shootdown(); /* it may have replaced mappings */
	}
	return r;
}

int dune_vm_map_phys(ptent_t *root, void *va, size_t len, void *pa, int perm)
{
	return map_range(root, (uint64_t)(uintptr_t)va, len,
			 (uint64_t)(uintptr_t)pa, perm, 0);
}

int dune_vm_map_pages(ptent_t *root, void *va, size_t len, int perm)
{
	return map_range(root, (uint64_t)(uintptr_t)va, len, 0, perm, 1);
}

int dune_vm_unmap(ptent_t *root, void *va, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r = check_range(a, len, 0, 1);
	if (r)
		return r;
	struct gl_pt pt = view(root);
	vmm_mem_lock(vmm_g);
	/* A split at each end needs at most two tables per level. */
	if (vmm_pool_avail(vmm_g) < 6)
		r = -ENOMEM;
	else
		r = gl_pt_unmap(&pt, a, len);
	vmm_mem_unlock(vmm_g);
	if (!r) {
		dune_flush_tlb_range(a, len);
		shootdown();
	}
	return r;
}

/* Visit every leaf (present or PERM_NONE) in [start, end). */
typedef int (*leaf_fn)(uint64_t *e, uint64_t va, int level, void *arg);

static int for_leaves(uint64_t *t, int l, uint64_t base, uint64_t start,
		      uint64_t end, leaf_fn fn, void *arg)
{
	uint64_t size = PT_LEVEL_SIZE(l);
	for (int i = (int)PT_INDEX(start > base ? start : base, l);
	     i < PT_ENTRIES; i++) {
		uint64_t va = base + (uint64_t)i * size;
		if (va >= end)
			break;
		uint64_t e = t[i];
		if (!(e & (PTE_P | PTE_NONE)))
			continue;
		int r;
		if (l == 1 || (e & PTE_PS))
			r = fn(&t[i], va, l, arg);
		else
			r = for_leaves(
			    (uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK), l - 1,
			    va, start, end, fn, arg);
		if (r)
			return r;
	}
	return 0;
}

struct prot_arg {
	uint64_t start, end, bits;
	int check; /* pass 1: only look for partial large pages */
};

static int prot_leaf(uint64_t *e, uint64_t va, int level, void *arg)
{
	struct prot_arg *p = arg;
	uint64_t size = PT_LEVEL_SIZE(level);
	if (p->check)
		return (va < p->start || va + size > p->end) ? -EBUSY : 0;
	uint64_t keep = *e & (PTE_ADDR_MASK | PTE_A | PTE_D);
	*e = keep | p->bits | (level > 1 ? PTE_PS : 0);
	return 0;
}

int dune_vm_mprotect(ptent_t *root, void *va, size_t len, int perm)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r = check_range(a, len, perm & ~(PERM_BIG | PERM_BIG_1GB), 1);
	if (r)
		return r;
	if (perm & (PERM_BIG | PERM_BIG_1GB))
		return -EINVAL; /* the page size is the mapping's */
	struct gl_pt pt = view(root);
	struct prot_arg p = {a, a + len, perm_bits(perm), 1};
	vmm_mem_lock(vmm_g);
	uint64_t *t = (uint64_t *)(uintptr_t)pt.root;
	r = for_leaves(t, 4, 0, p.start, p.end, prot_leaf, &p);
	if (!r) {
		p.check = 0;
		r = for_leaves(t, 4, 0, p.start, p.end, prot_leaf, &p);
	}
	vmm_mem_unlock(vmm_g);
	if (!r) {
		dune_flush_tlb_range(a, len);
		shootdown();
	}
	return r;
}

int dune_vm_lookup(ptent_t *root, void *va, int create, ptent_t **pte_out)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	if (!vmm_g)
		return -EPERM;
	if (a >= GVA_USER_END)
		return -EFAULT;
	struct gl_pt pt = view(root);
	int r = 0;
	vmm_mem_lock(vmm_g);
	enum slot_state st = probe_slot((ptent_t *)(uintptr_t)pt.root, a, 1);
	if (st == SLOT_LARGER) {
		if (create) {
			r = -EBUSY;
		} else {
			/* Return the large entry itself. */
			uint64_t *t = (uint64_t *)(uintptr_t)pt.root;
			for (int l = 4;; l--) {
				uint64_t *e = &t[PT_INDEX(a, l)];
				if (*e & PTE_PS) {
					*pte_out = e;
					break;
				}
				t = (uint64_t *)(uintptr_t)(*e & PTE_ADDR_MASK);
			}
		}
	} else {
		uint64_t *e;
		r = gl_pt_walk(&pt, a, 1, create, &e);
		if (!r)
			*pte_out = e;
	}
	vmm_mem_unlock(vmm_g);
	return r;
}

struct walk_arg {
	page_walk_cb cb;
	const void *arg;
};

static int walk_leaf(uint64_t *e, uint64_t va, int level, void *arg)
{
	struct walk_arg *w = arg;
	(void)level;
	if (!(*e & PTE_P))
		return 0; /* PERM_NONE: mapped, but not present */
	return w->cb(w->arg, e, (void *)(uintptr_t)va);
}

int dune_vm_page_walk(ptent_t *root, void *start, void *end, page_walk_cb cb,
		      const void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)start, e = (uint64_t)(uintptr_t)end;
	if (!vmm_g)
		return -EPERM;
	if (e > GVA_USER_END)
		return -EFAULT;
	if (s > e)
		return -EINVAL;
	struct walk_arg w = {cb, arg};
	/* No lock: the callback may call back into this API. */
	return for_leaves((uint64_t *)(uintptr_t)view(root).root, 4, 0, s, e,
			  walk_leaf, &w);
}

/* ---- clone / free -------------------------------------------------------- */
static int in_arena(uint64_t va)
{
	uint64_t a = (uint64_t)(uintptr_t)vmm_g->arena;
	return va >= a && va < a + ARENA_SIZE;
}

/* both: make the source copy-on-write too (not for the process's root,
 * which must stay the host's memory: the host runs the syscalls). */
static int clone_table(uint64_t *src, uint64_t *dst, int l, uint64_t base,
		       int both)
{
	for (int i = 0; i < PT_ENTRIES; i++) {
		uint64_t e = src[i];
		uint64_t va = base + (uint64_t)i * PT_LEVEL_SIZE(l);
		if (!(e & PTE_P) || l == 1 || (e & PTE_PS)) {
			/* A leaf: writable user pages become COW, but not
			 * guestlib's own (page tables, upcall stacks). */
			if ((e & PTE_P) && (e & PTE_W) && (e & PTE_U) &&
			    !in_arena(va)) {
				e = (e & ~PTE_W) | PTE_COW;
				if (both)
					src[i] = e;
			}
			dst[i] = e;
			continue;
		}
		uint64_t pa;
		if (vmm_pt_alloc(vmm_g, &pa))
			return -ENOMEM;
		dst[i] = pa | (e & PTE_FLAGS_MASK);
		int r = clone_table((uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK),
				    (uint64_t *)(uintptr_t)pa, l - 1, va, both);
		if (r)
			return r;
	}
	return 0;
}

static void free_tables(uint64_t *t, int l)
{
	for (int i = 0; i < PT_ENTRIES && l > 1; i++) {
		uint64_t e = t[i];
		if ((e & PTE_P) && !(e & PTE_PS))
			free_tables((uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK),
				    l - 1);
	}
	vmm_page_free(vmm_g, (uint64_t)(uintptr_t)t);
}

ptent_t *dune_vm_clone(ptent_t *root)
{
	uint64_t pa;
	if (!vmm_g)
		return NULL;
	struct gl_pt pt = view(root);
	vmm_mem_lock(vmm_g);
	int r = vmm_pt_alloc(vmm_g, &pa);
	if (!r) {
		r = clone_table((uint64_t *)(uintptr_t)pt.root,
				(uint64_t *)(uintptr_t)pa, 4, 0,
				pt.root != vmm_g->pt.root);
		if (r)
			free_tables((uint64_t *)(uintptr_t)pa, 4);
	}
	vmm_mem_unlock(vmm_g);
	if (r)
		return NULL;
	dune_flush_tlb_all(); /* the source lost its write permissions */
	return (ptent_t *)(uintptr_t)pa;
}

ptent_t *dune_vm_new_root(void)
{
	uint64_t pa;
	if (!vmm_g)
		return NULL;
	struct vmm *vm = vmm_g;
	uint64_t arena = (uint64_t)(uintptr_t)vm->arena;
	uint64_t t0 = (uint64_t)(uintptr_t)gl_text_start & ~(PAGE_SIZE - 1);
	uint64_t t1 = ((uint64_t)(uintptr_t)gl_text_end + PAGE_SIZE - 1) &
		      ~(PAGE_SIZE - 1);
	vmm_mem_lock(vm);
	int r = vmm_pt_alloc(vm, &pa);
	if (!r) {
		struct gl_pt pt = view((ptent_t *)(uintptr_t)pa);
		/* What the CPU needs to take a trap: descriptor tables and
		 * IST stacks (ring 0 only), and guestlib's entry text, which
		 * this software KVM runs at CPL3 for syscall (read/exec). */
		r = gl_pt_map(&pt, arena, arena, ARENA_PT_OFF,
			      PTE_W | PTE_NX | PTE_PS);
		if (!r)
			r = gl_pt_map(&pt, t0, t0, t1 - t0, PTE_U);
		if (r)
			free_tables((uint64_t *)(uintptr_t)pa, 4);
	}
	vmm_mem_unlock(vm);
	return r ? NULL : (ptent_t *)(uintptr_t)pa;
}

void dune_vm_free(ptent_t *root)
{
	if (!vmm_g || !root || root == dune_pgroot())
		return;
	vmm_mem_lock(vmm_g);
	free_tables(root, 4);
	vmm_mem_unlock(vmm_g);
}

int dune_vm_default_pgflt_handler(uintptr_t addr, uint64_t fec)
{
	return dune_vm_cow_fault(cur_root ? cur_root : dune_pgroot(), addr,
				 fec);
}

int dune_vm_cow_fault(ptent_t *root, uintptr_t addr, uint64_t fec)
{
	ptent_t *e;
	if (!(fec & DUNE_PF_W) || dune_vm_lookup(root, (void *)addr, 0, &e) ||
	    !(*e & PTE_COW))
		return -EFAULT;
	int large = !!(*e & PTE_PS);
	uint64_t size = large ? LPAGE_SIZE : PAGE_SIZE, frame;
	vmm_mem_lock(vmm_g);
	int r = large ? vmm_lpage_alloc(vmm_g, &frame)
		      : vmm_pt_alloc(vmm_g, &frame);
	if (!r) {
		vmm_page_copy(
		    (void *)(uintptr_t)frame,
		    (void *)(uintptr_t)(*e & PTE_ADDR_MASK & ~(size - 1)),
		    size);
		*e = frame | (*e & PTE_FLAGS_MASK & ~PTE_COW) | PTE_W;
	}
	vmm_mem_unlock(vmm_g);
	if (!r)
		dune_flush_tlb_one(addr);
	return r;
}

void *dune_page_alloc(void)
{
	uint64_t pa;
	if (!vmm_g)
		return NULL;
	vmm_mem_lock(vmm_g);
	int r = vmm_pt_alloc(vmm_g, &pa);
	vmm_mem_unlock(vmm_g);
	return r ? NULL : (void *)(uintptr_t)pa;
}

void dune_page_free(void *pa)
{
	if (!vmm_g || !pa)
		return;
	vmm_mem_lock(vmm_g);
	vmm_page_free(vmm_g, (uint64_t)(uintptr_t)pa);
	vmm_mem_unlock(vmm_g);
}

/* ---- TLB ------------------------------------------------------------------
 */
static int ring0(void)
{
	return vmm_g && vmm_g->mode == DUNE_MODE_RING0;
}

void dune_flush_tlb_one(uintptr_t va)
{
	if (!dune_inside_cached())
		return; /* outside the guest there is no guest TLB */
	if (ring0())
		__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
	else
		gl_priv(va, 0, DUNE_PRIV_INVLPG);
}

void dune_flush_tlb(void)
{
	if (!dune_inside_cached())
		return;
	if (ring0()) {
		uint64_t cr3;
		__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3"
				 : "=r"(cr3)::"memory");
	} else {
		gl_priv(0, 0, DUNE_PRIV_FLUSH);
	}
}

/* Other vCPUs: they flush before running guest code again (one exit; none
 * while the process has one vCPU). */
static void shootdown(void)
{
	if (dune_inside_cached() && atomic_load(&vmm_g->nvcpus) > 1)
		vmm_sys3(DUNE_SYS_RAM, DUNE_RAM_TLB_SHOOTDOWN, 0, 0);
}

void dune_flush_tlb_all(void)
{
	dune_flush_tlb();
	shootdown();
}

/* Past this many pages one full flush is cheaper than invlpg each. */
#define FLUSH_ALL_PAGES 32

void dune_flush_tlb_range(uintptr_t va, size_t len)
{
	size_t pages = (len + PAGE_SIZE - 1) / PAGE_SIZE;
	if (pages > FLUSH_ALL_PAGES) {
		dune_flush_tlb();
	} else if (!ring0()) {
		if (dune_inside_cached())
			gl_priv(va, pages, DUNE_PRIV_INVLPG_N);
	} else {
		for (size_t i = 0; i < pages; i++)
			dune_flush_tlb_one(va + i * PAGE_SIZE);
	}
}

int dune_set_root(ptent_t *root)
{
	if (!vmm_g)
		return -EPERM;
	if (!root)
		return -EINVAL;
	if (!dune_inside_cached())
		return -EPERM;
	/* Recorded first: the write happens under the old root (under a
	 * clone, this thread's TLS may be a copy-on-write page). */
	cur_root = root == dune_pgroot() ? NULL : root;
	if (ring0())
		__asm__ volatile("mov %0, %%cr3" ::"r"(root) : "memory");
	else
		gl_priv((uint64_t)(uintptr_t)root, 0, DUNE_PRIV_SETROOT);
	return 0;
}

/* ---- accessed / dirty ---------------------------------------------------- */
static int test_and_clear(ptent_t *root, void *va, uint64_t bit)
{
	ptent_t *e;
	int r = dune_vm_lookup(root, va, 0, &e);
	if (r)
		return r;
	if (!(*e & PTE_P))
		return -ENOENT;
	int was = !!(__atomic_fetch_and(e, ~bit, __ATOMIC_SEQ_CST) & bit);
	if (was) {
		dune_flush_tlb_one((uintptr_t)va);
		shootdown();
	}
	return was;
}

int dune_vm_test_and_clear_accessed(ptent_t *root, void *va)
{
	return test_and_clear(root, va, PTE_A);
}

int dune_vm_test_and_clear_dirty(ptent_t *root, void *va)
{
	return test_and_clear(root, va, PTE_D);
}

struct dirty_arg {
	uintptr_t *out;
	size_t max, n;
	int clear;
	int cleared_a; /* a table's A bit was cleared: flush too */
};

static int dirty_leaf(uint64_t *e, uint64_t va, int level, void *arg)
{
	struct dirty_arg *d = arg;
	(void)level;
	if (!(*e & PTE_D))
		return 0;
	if (d->n == d->max)
		return 1;
	d->out[d->n++] = va;
	if (d->clear)
		__atomic_fetch_and(e, ~PTE_D, __ATOMIC_SEQ_CST);
	return 0;
}

/* Scan one page table (512 leaves) quickly: most entries are clean. */
static int scan_pt(uint64_t *t, uint64_t base, uint64_t start, uint64_t end,
		   struct dirty_arg *d)
{
	int i0 = start > base ? (int)PT_INDEX(start, 1) : 0;
	for (int i = i0; i < PT_ENTRIES; i++) {
		uint64_t va = base + (uint64_t)i * PAGE_SIZE;
		if (va >= end)
			break;
		if ((t[i] & (PTE_P | PTE_D)) == (PTE_P | PTE_D) &&
		    dirty_leaf(&t[i], va, 1, d))
			return 1;
	}
	return 0;
}

static int scan_level(uint64_t *t, int l, uint64_t base, uint64_t start,
		      uint64_t end, struct dirty_arg *d)
{
	/* With clear, the A bits of the tables visited are cleared too (the
	 * final flush covers them): the next scan skips what was not
	 * touched since. */
	uint64_t size = PT_LEVEL_SIZE(l);
	for (int i = (int)PT_INDEX(start > base ? start : base, l);
	     i < PT_ENTRIES; i++) {
		uint64_t va = base + (uint64_t)i * size, e = t[i];
		if (va >= end)
			break;
		/* The CPU sets A in every entry it walks: a table whose entry
		 * was never accessed holds no dirty page. */
		if (!(e & PTE_P) || !(e & PTE_A))
			continue;
		int r;
		if (e & PTE_PS) {
			r = dirty_leaf(&t[i], va, l, d);
		} else {
			uint64_t *sub =
			    (uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK);
			r = l == 2 ? scan_pt(sub, va, start, end, d)
				   : scan_level(sub, l - 1, va, start, end, d);
			if (!r && d->clear && va >= start && va + size <= end &&
			    (e & PTE_A)) {
				__atomic_fetch_and(&t[i], ~PTE_A,
						   __ATOMIC_SEQ_CST);
				d->cleared_a = 1;
			}
		}
		if (r)
			return r;
	}
	return 0;
}

long dune_vm_scan_dirty(ptent_t *root, void *va, size_t len, uintptr_t *out,
			size_t max, int clear)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r = check_range(a, len, 0, 1);
	if (r)
		return r;
	struct dirty_arg d = {out, max, 0, clear, 0};
	scan_level((uint64_t *)(uintptr_t)view(root).root, 4, 0, a, a + len,
		   &d);
	if (clear && (d.n || d.cleared_a))
		dune_flush_tlb_all(); /* later accesses set D and A again */
	return (long)d.n;
}
