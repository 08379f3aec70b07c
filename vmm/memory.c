/* vmm/memory.c: guest memory: memslots and the guest page table, kept in
 * step with the host's mappings.
 *
 * One mechanism: vmm_mem_sync(start, end) reads what the host maps in the
 * range and makes the guest match (PTEs mirror protections, memslots cover
 * exactly the accessible ranges). It runs after every forwarded syscall
 * that changes the address space, and on any guest #PF the page table
 * cannot explain (stack growth, another thread's mmap, lazy ranges). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "maps.h"
#include "sys.h"
#include "vmm.h"

/* ---- the lock ----------------------------------------------------------- */
void vmm_mem_lock(struct vmm *vm)
{
	while (atomic_flag_test_and_set_explicit(&vm->sh->mem_lock,
						 memory_order_acquire))
		vmm_sys0(SYS_sched_yield);
}

void vmm_mem_unlock(struct vmm *vm)
{
	atomic_flag_clear_explicit(&vm->sh->mem_lock, memory_order_release);
}

#define mem_lock vmm_mem_lock
#define mem_unlock vmm_mem_unlock

/* ---- page-table pool ---------------------------------------------------- */
static void *identity(void *ctx, uint64_t pa)
{
	(void)ctx;
	return (void *)(uintptr_t)pa; /* gpa == hva (layout.h) */
}

/* The pool: 4 KiB pages (tables and frames) bump-allocated upwards from
 * ARENA_PT_OFF, 2 MiB frames downwards from the end, each with a free
 * list whose links live in the free pages. Callers hold mem_lock. */
int vmm_pt_alloc(void *ctx, uint64_t *pa)
{
	struct vmm *vm = ctx;
	if (vm->sh->pool_free) {
		*pa = vm->sh->pool_free;
		vm->sh->pool_free = *(uint64_t *)(uintptr_t)*pa;
		vm->sh->pool_nfree--;
		vmm_page_zero((void *)(uintptr_t)*pa, PAGE_SIZE);
		return 0;
	}
	if (vm->sh->pt_next + PAGE_SIZE > vm->sh->pt_top)
		return -ENOMEM;
	/* Fresh NORESERVE memory: already zero. */
	*pa = (uint64_t)(uintptr_t)(vm->arena + vm->sh->pt_next);
	vm->sh->pt_next += PAGE_SIZE;
	return 0;
}

int vmm_pool_alloc_contig(struct vmm *vm, uint64_t len, uint64_t *pa)
{
	len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (vm->sh->pt_next + len > vm->sh->pt_top)
		return -ENOMEM;
	*pa = (uint64_t)(uintptr_t)(vm->arena + vm->sh->pt_next);
	vm->sh->pt_next += len;
	return 0;
}

void vmm_page_free(struct vmm *vm, uint64_t pa)
{
	*(uint64_t *)(uintptr_t)pa = vm->sh->pool_free;
	vm->sh->pool_free = pa;
	vm->sh->pool_nfree++;
}

int vmm_lpage_alloc(struct vmm *vm, uint64_t *pa)
{
	/* Taken from fresh pool memory (zero) and never given back. */
	if (vm->sh->pt_top < vm->sh->pt_next + LPAGE_SIZE)
		return -ENOMEM;
	vm->sh->pt_top -= LPAGE_SIZE;
	*pa = (uint64_t)(uintptr_t)(vm->arena + vm->sh->pt_top);
	return 0;
}

uint64_t vmm_lpool_avail(const struct vmm *vm)
{
	uint64_t top = vm->sh->pt_top & ~(LPAGE_SIZE - 1);
	uint64_t next = (vm->sh->pt_next + LPAGE_SIZE - 1) & ~(LPAGE_SIZE - 1);
	return top > next ? (top - next) / LPAGE_SIZE : 0;
}

int vmm_pool_page(const struct vmm *vm, uint64_t pa)
{
	uint64_t lo = (uint64_t)(uintptr_t)vm->arena + ARENA_PT_OFF;
	uint64_t hi = (uint64_t)(uintptr_t)vm->arena + ARENA_SIZE;
	return !(pa & (PAGE_SIZE - 1)) && pa >= lo && pa < hi;
}

uint64_t vmm_pool_avail(const struct vmm *vm)
{
	return (vm->sh->pt_top - vm->sh->pt_next) / PAGE_SIZE +
	       vm->sh->pool_nfree;
}

/* ---- memslots ----------------------------------------------------------- */
static long set_slot(struct vmm *vm, uint32_t id, uint64_t start, uint64_t size)
{
	struct kvm_userspace_memory_region r = {
	    .slot = id,
	    .guest_phys_addr = start,
	    .memory_size = size,
	    .userspace_addr = start,
	};
	return __vmm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int slot_add(struct vmm *vm, uint64_t start, uint64_t end)
{
	uint32_t id;
	if (vm->nslots >= vm->max_slots)
		return -ENOSPC;
	id = vm->nfree_ids ? vm->free_ids[--vm->nfree_ids] : vm->next_id++;
	long r = set_slot(vm, id, start, end - start);
	if (r) {
		vm->free_ids[vm->nfree_ids++] = id;
		return (int)r;
	}
	int i = vm->nslots;
	while (i > 0 && vm->slots[i - 1].start > start) {
		vm->slots[i] = vm->slots[i - 1];
		i--;
	}
	vm->slots[i] = (struct vmm_slot){start, end, id};
	vm->nslots++;
	return 0;
}

static void slot_del(struct vmm *vm, int i)
{
	set_slot(vm, vm->slots[i].id, vm->slots[i].start, 0);
	vm->free_ids[vm->nfree_ids++] = vm->slots[i].id;
	memmove(&vm->slots[i], &vm->slots[i + 1],
		(size_t)(vm->nslots - i - 1) * sizeof(vm->slots[0]));
	vm->nslots--;
}

/* First slot with end > addr. */
static int slot_lower(struct vmm *vm, uint64_t addr)
{
	int lo = 0, hi = vm->nslots;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (vm->slots[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ivl {
	uint64_t start, end;
	int prot;
};

/* Callers hold the lock. */
static int overlaps_private(struct vmm *vm, uint64_t start, uint64_t end)
{
	for (int i = 0; i < vm->npriv; i++)
		if (vm->priv[i].start < end && start < vm->priv[i].end)
			return 1;
	return 0;
}

/* Out of slots: cover the change with one slot spanning it, the slots it
 * overlaps and, to give one back, a neighbour. A slot may cover unmapped
 * or PROT_NONE pages (no PTE reaches them), so this is always safe; it
 * only costs KVM memory, hence the size bound. Never spans dune's private
 * memory. */
#define HULL_MAX (1ull << 30)

static int slots_hull(struct vmm *vm, int first, int last,
		      const struct ivl *want, int n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	if (first < last) {
		lo = vm->slots[first].start;
		hi = vm->slots[last - 1].end;
	}
	if (n) {
		lo = want[0].start < lo ? want[0].start : lo;
		hi = want[n - 1].end > hi ? want[n - 1].end : hi;
	}
	if (!n)
		return 0; /* only shrinking: keep the wider coverage */
	if (first == last) {
		/* Nothing to widen: take in the nearer neighbour instead. */
		int has_l = first > 0, has_r = last < vm->nslots;
		uint64_t gl =
		    has_l ? lo - vm->slots[first - 1].end : UINT64_MAX;
		uint64_t gr = has_r ? vm->slots[last].start - hi : UINT64_MAX;
		if (has_l && (!has_r || gl <= gr))
			lo = vm->slots[--first].start;
		else if (has_r)
			hi = vm->slots[last++].end;
	}
	if (hi - lo > HULL_MAX || overlaps_private(vm, lo, hi) ||
	    vm->nslots - (last - first) + 1 > vm->max_slots)
		return -ENOSPC;
	for (int k = last - 1; k >= first; k--)
		slot_del(vm, k);
	return slot_add(vm, lo, hi);
}

static int accessible_cb(const struct vmm_vma *v, void *arg)
{
	(void)arg;
	return v->prot != 0;
}

/* 1 if some accessible host mapping intersects [s, e). */
static int accessible_in(uint64_t s, uint64_t e)
{
	return s < e && vmm_maps_iter(s, e, accessible_cb, NULL) == 1;
}

/* New slots reach this far into unused space on each side, so that a
 * growing heap or a neighbouring mapping needs no slot of its own. */
#define SLOT_EXTEND (2ull << 20)

/* The free gap around [a, b): not covered by a slot, not private. */
static void extend_into_gap(struct vmm *vm, uint64_t *a, uint64_t *b)
{
	int i = slot_lower(vm, *a); /* first slot ending after a */
	uint64_t lo = *a > SLOT_EXTEND ? *a - SLOT_EXTEND : PAGE_SIZE;
	uint64_t hi = *b + SLOT_EXTEND;
	/* KVM wants a slot's host range below TASK_SIZE, one page short of
	 * the user half (a stack near the top made this fail, rarely). */
	if (hi > GVA_USER_END - PAGE_SIZE)
		hi = GVA_USER_END - PAGE_SIZE;
	if (hi < *b)
		hi = *b;
	if (i > 0 && vm->slots[i - 1].end > lo)
		lo = vm->slots[i - 1].end;
	if (i < vm->nslots && vm->slots[i].start < hi)
		hi = vm->slots[i].start;
	for (int k = 0; k < vm->npriv; k++) {
		uint64_t ps = vm->priv[k].start, pe = vm->priv[k].end;
		if (pe <= *a && pe > lo)
			lo = pe;
		if (ps >= *b && ps < hi)
			hi = ps;
	}
	*a = lo < *a ? lo : *a;
	*b = hi > *b ? hi : *b;
}

/* Make sure the sorted intervals want[0..n) inside [start, end) are
 * covered by memslots.
 *
 * Slots are never split or shrunk: KVM cannot replace a slot atomically,
 * and another vCPU touching the range in between would take an MMIO exit.
 * So coverage may exceed what is mapped (no PTE reaches the excess; it
 * costs KVM ~2.5 MiB per GiB), and a slot goes away only when nothing in
 * it is wanted any more: it lies inside [start, end), whose PTEs the
 * caller has already removed. */
static int slots_set(struct vmm *vm, uint64_t start, uint64_t end,
		     const struct ivl *want, int n)
{
	/* 1. Slots touching the range that nothing wants any more: inside
	 * it, or reaching out of it only over memory that is not mapped
	 * accessibly (where no PTE can be). */
	for (int i = slot_lower(vm, start);
	     i < vm->nslots && vm->slots[i].start < end;) {
		struct vmm_slot *sl = &vm->slots[i];
		int used = 0;
		for (int k = 0; k < n && !used; k++)
			used =
			    want[k].start < sl->end && sl->start < want[k].end;
		if (!used && (sl->start < start || sl->end > end))
			used = accessible_in(sl->start, start) ||
			       accessible_in(end, sl->end);
		if (!used)
			slot_del(vm, i);
		else
			i++;
	}
	/* 2. Cover what is wanted and not covered yet. */
	for (int k = 0; k < n; k++) {
		uint64_t a = want[k].start;
		while (a < want[k].end) {
			int i = slot_lower(vm, a);
			if (i < vm->nslots && vm->slots[i].start <= a) {
				a = vm->slots[i].end; /* covered up to there */
				continue;
			}
			uint64_t b = want[k].end;
			if (i < vm->nslots && vm->slots[i].start < b)
				b = vm->slots[i].start;
			uint64_t s = a, e = b;
			extend_into_gap(vm, &s, &e);
			int r = vm->nslots < vm->max_slots
				    ? slot_add(vm, s, e)
				    : slots_hull(vm, i, i,
						 &(struct ivl){a, b, 0}, 1);
			if (r)
				return r;
			a = b;
		}
	}
	return 0;
}

/* ---- sync ---------------------------------------------------------------- */
static uint64_t pte_flags(int prot)
{
	uint64_t f = PTE_P | PTE_U;
	if (prot & PROT_WRITE)
		f |= PTE_W;
	if (!(prot & PROT_EXEC))
		f |= PTE_NX;
	return f;
}

#define MAX_IVL 65536
static struct ivl *scratch; /* per-vm use only, under mem_lock */

struct collect {
	uint64_t start, end;
	int force; /* include vmas larger than EAGER_MAX; 2: and trust the
		      range to be backed (the fault path probed it) */
	int n;
	int err;
};

/* End of the part of a file mapping that the file backs: pages past the
 * end of a regular file raise SIGBUS natively, so they get no PTE and a
 * guest access faults into vmm_mem_fault, which asks the host. */
static char *put_hex(char *p, uint64_t v)
{
	char t[24];
	vmm_fmt_hex(t, v);
	for (const char *q = t + 2; *q;) /* without "0x" */
		*p++ = *q++;
	return p;
}

/* Size of the regular file behind v: by path, or through the kernel's
 * /proc/self/map_files link when the path is gone (deleted, memfd).
 * Returns 1 (a regular file, *size set), 0 (not a regular file), -1
 * (cannot tell). */
static int file_size(const struct vmm_vma *v, uint64_t *size)
{
	struct stat st;
	char mf[64], *p;
	size_t n = v->path ? strlen(v->path) : 0;
	int r = -1;
	if (n && v->path[0] == '/' &&
	    !(n > 10 && !strcmp(v->path + n - 10, " (deleted)")))
		r = (int)vmm_sys4(SYS_newfstatat, AT_FDCWD, v->path, &st, 0);
	if (r) {
		memcpy(mf, "/proc/self/map_files/", 21);
		p = put_hex(mf + 21, v->start);
		*p++ = '-';
		p = put_hex(p, v->end);
		*p = 0;
		r = (int)vmm_sys4(SYS_newfstatat, AT_FDCWD, mf, &st, 0);
	}
	if (r)
		return -1;
	*size = (uint64_t)st.st_size;
	return S_ISREG(st.st_mode);
}

/* End of the part of a file mapping that the file backs: pages past the
 * end of a regular file raise SIGBUS natively, so they get no PTE and a
 * guest access faults into vmm_mem_fault, which asks the host. When the
 * size cannot be told, nothing is mapped ahead: each page comes in on its
 * own fault, once the host's probe says it is there. */
static uint64_t file_backed_end(const struct vmm_vma *v)
{
	uint64_t size;
	if (!v->file)
		return v->end;
	int k = file_size(v, &size);
	if (k < 0)
		return v->start;
	if (!k)
		return v->end;
	if (size <= v->offset)
		return v->start;
	uint64_t end = v->start + (size - v->offset + PAGE_SIZE - 1) /
				      PAGE_SIZE * PAGE_SIZE;
	return end < v->end ? end : v->end;
}

static int collect_cb(const struct vmm_vma *v, void *arg)
{
	struct collect *c = arg;
	if (!v->prot)
		return 0;
	if (!c->force && v->end - v->start > EAGER_MAX)
		return 0;
	if (c->n >= MAX_IVL) {
		c->err = -E2BIG;
		return 1;
	}
	uint64_t s = v->start > c->start ? v->start : c->start;
	uint64_t e = v->end < c->end ? v->end : c->end;
	uint64_t fe = c->force == 2 ? e : file_backed_end(v);
	e = e < fe ? e : fe;
	if (s < e)
		scratch[c->n++] = (struct ivl){s, e, v->prot};
	return 0;
}

static int sync_piece(struct vmm *vm, uint64_t start, uint64_t end, int force)
{
	struct collect c = {start, end, force, 0, 0};
	int r = gl_pt_unmap(&vm->pt, start, end - start);
	if (r)
		return r;
	r = vmm_maps_iter(start, end, collect_cb, &c);
	if (r < 0)
		return r;
	if (c.err)
		return c.err;
	/* Merged copy for the slots, after the per-vma list. */
	struct ivl *m = scratch + c.n;
	int nm = 0;
	if (2 * c.n > MAX_IVL)
		return -E2BIG;
	for (int k = 0; k < c.n; k++) {
		if (nm && m[nm - 1].end == scratch[k].start)
			m[nm - 1].end = scratch[k].end;
		else
			m[nm++] = scratch[k];
	}
	r = slots_set(vm, start, end, m, nm);
	if (r)
		return r; /* PTEs stay cleared: consistent, just not mapped */
	for (int k = 0; k < c.n; k++) {
		r = gl_pt_map(&vm->pt, scratch[k].start, scratch[k].start,
			      scratch[k].end - scratch[k].start,
			      pte_flags(scratch[k].prot));
		if (r)
			return r;
	}
	return 0;
}

/* Apply sync_piece to the parts of [start, end) outside private ranges. */
static int sync_locked(struct vmm *vm, uint64_t start, uint64_t end, int force)
{
	atomic_fetch_add(&vm->st_syncs, 1);
	uint64_t a = start;
	while (a < end) {
		uint64_t b = end, skip = 0;
		for (int i = 0; i < vm->npriv; i++) {
			if (vm->priv[i].end <= a || vm->priv[i].start >= b)
				continue;
			if (vm->priv[i].start <= a) {
				skip = vm->priv[i].end > skip ? vm->priv[i].end
							      : skip;
			} else {
				b = vm->priv[i].start;
			}
		}
		if (skip) {
			a = skip;
			continue;
		}
		int r = sync_piece(vm, a, b, force);
		if (r)
			return r;
		a = b;
	}
	return 0;
}

int vmm_mem_sync(struct vmm *vm, uint64_t start, uint64_t end)
{
	start &= ~(PAGE_SIZE - 1);
	end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (end > GVA_USER_END)
		end = GVA_USER_END;
	if (start >= end)
		return 0;
	mem_lock(vm);
	int r = sync_locked(vm, start, end, 0);
	mem_unlock(vm);
	return r;
}

static int is_private(struct vmm *vm, uint64_t addr)
{
	return overlaps_private(vm, addr, addr + 1);
}

int vmm_mem_fault(struct vmm *vm, uint64_t addr, uint64_t err, int *code)
{
	struct vmm_vma v;
	uint64_t page = addr & ~(PAGE_SIZE - 1);
	*code = SEGV_MAPERR;
	if (addr >= GVA_USER_END)
		return SIGSEGV;
	if (is_private(vm, addr)) {
		/* dune's memory, or a guest-owned range whose entry said no. */
		if (err & DUNE_PF_P)
			*code = SEGV_ACCERR;
		return SIGSEGV;
	}
	/* Ask the host what a native access would get: the probe grows a
	 * stack exactly when a native access would, and fails with SIGBUS
	 * for a file page past the end of the file. */
	long probe = vmm_probe_read((void *)(uintptr_t)addr);
	if (vmm_maps_find(addr, &v))
		return SIGSEGV;
	*code = SEGV_ACCERR;
	if (!v.prot || ((err & DUNE_PF_W) && !(v.prot & PROT_WRITE)) ||
	    ((err & DUNE_PF_I) && !(v.prot & PROT_EXEC)))
		return SIGSEGV;
	if (probe == -EBUSY) {
		*code = BUS_ADRERR;
		return SIGBUS;
	}
	/* The host allows the access: map the vma (or a chunk of a big one;
	 * or just this page of a file whose size is unknown). */
	uint64_t s = v.start, e = v.end, fsize;
	int force = 1;
	if (v.file && file_size(&v, &fsize) < 0) {
		s = page;
		e = page + PAGE_SIZE;
		force = 2;
	} else if (e - s > EAGER_MAX) {
		s = page & ~(LAZY_CHUNK - 1);
		e = s + LAZY_CHUNK;
		s = s < v.start ? v.start : s;
		e = e > v.end ? v.end : e;
	}
	mem_lock(vm);
	int r = sync_locked(vm, s, e, force);
	uint64_t pte = gl_pt_lookup(&vm->pt, addr, NULL);
	mem_unlock(vm);
	if (r == -ENOSPC)
		vmm_msg("dune: out of KVM memslots: cannot map guest memory "
			"(too many separate mappings)\n",
			NULL, NULL);
	*code = SEGV_MAPERR;
	return !r && (pte & PTE_P) ? 0 : SIGSEGV;
}

uint64_t vmm_mem_pte(struct vmm *vm, uint64_t addr)
{
	mem_lock(vm);
	uint64_t e = gl_pt_lookup(&vm->pt, addr, NULL);
	mem_unlock(vm);
	return e & ~(PTE_A | PTE_D); /* what the CPU may set meanwhile */
}

int vmm_mem_slot_add(struct vmm *vm, uint64_t start, uint64_t end)
{
	return slot_add(vm, start, end);
}

void vmm_mem_slot_remove(struct vmm *vm, uint64_t start)
{
	for (int i = 0; i < vm->nslots; i++)
		if (vm->slots[i].start == start) {
			slot_del(vm, i);
			return;
		}
}

/* ---- private ranges ---------------------------------------------------- */
int vmm_mem_add_private(struct vmm *vm, uint64_t start, uint64_t end)
{
	mem_lock(vm);
	if (vm->npriv >= VMM_MAX_PRIV) {
		mem_unlock(vm);
		return -ENOMEM;
	}
	vm->priv[vm->npriv].start = start;
	vm->priv[vm->npriv].end = end;
	vm->npriv++;
	/* Drop whatever the guest had there. */
	gl_pt_unmap(&vm->pt, start, end - start);
	slots_set(vm, start, end, NULL, 0);
	mem_unlock(vm);
	return 0;
}

int vmm_mem_touches_private(struct vmm *vm, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	if (end < start)
		return 1; /* wraps: treat as touching everything */
	mem_lock(vm);
	int hit = overlaps_private(vm, start, end);
	mem_unlock(vm);
	return hit;
}

void vmm_mem_del_private(struct vmm *vm, uint64_t start, uint64_t end)
{
	mem_lock(vm);
	for (int i = 0; i < vm->npriv; i++) {
		if (vm->priv[i].start == start && vm->priv[i].end == end) {
			vm->priv[i] = vm->priv[--vm->npriv];
			break;
		}
	}
	mem_unlock(vm);
}

/* ---- guest memory access -------------------------------------------- */
static int user_range_ok(struct vmm *vm, gva_t a, size_t len, int write)
{
	if (a + len < a || a + len > GVA_USER_END)
		return 0;
	if (!len)
		return 1;
	mem_lock(vm);
	int ok = 1;
	for (uint64_t p = a & ~(PAGE_SIZE - 1); p < a + len && ok;
	     p += PAGE_SIZE) {
		uint64_t e = gl_pt_lookup(&vm->pt, p, NULL);
		ok = (e & PTE_P) && (e & PTE_U) && (!write || (e & PTE_W));
	}
	mem_unlock(vm);
	return ok;
}

static int copy_self(uintptr_t local, gva_t remote, size_t len, int write)
{
	struct iovec l = {(void *)local, len};
	struct iovec r = {(void *)(uintptr_t)remote, len};
	long n = vmm_sys6(write ? SYS_process_vm_writev : SYS_process_vm_readv,
			  vmm_sys0(SYS_getpid), (long)&l, 1, (long)&r, 1, 0);
	return n == (long)len ? 0 : -EFAULT;
}

int vmm_copy_from_guest(struct vmm *vm, void *dst, gva_t src, size_t len)
{
	if (!user_range_ok(vm, src, len, 0))
		return -EFAULT;
	return len ? copy_self((uintptr_t)dst, src, len, 0) : 0;
}

int vmm_copy_to_guest(struct vmm *vm, gva_t dst, const void *src, size_t len)
{
	if (!user_range_ok(vm, dst, len, 1))
		return -EFAULT;
	return len ? copy_self((uintptr_t)src, dst, len, 1) : 0;
}

/* ---- init ------------------------------------------------------------- */
uint64_t vmm_map_aligned(uint64_t len, uint64_t align, int prot)
{
	uint8_t *raw = vmm_mmap(NULL, len + align, prot,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	if (vmm_mmap_failed(raw))
		return 0;
	uint64_t a = ((uint64_t)(uintptr_t)raw + align - 1) & ~(align - 1);
	if (a > (uint64_t)(uintptr_t)raw)
		vmm_sys2(SYS_munmap, raw, a - (uint64_t)(uintptr_t)raw);
	vmm_sys2(SYS_munmap, a + len, (uint64_t)(uintptr_t)raw + align - a);
	return a;
}

int vmm_mem_init(struct vmm *vm)
{
	int r = -ENOMEM;
	const char *env = getenv("DUNE_MAX_MEMSLOTS"); /* tests lower it */
	if (env && atoi(env) > 1 && atoi(env) < vm->max_slots)
		vm->max_slots = atoi(env);
	vm->slots = vmm_zalloc((size_t)vm->max_slots * sizeof(*vm->slots));
	vm->free_ids = vmm_zalloc((size_t)vm->max_slots * sizeof(uint32_t));
	if (!scratch)
		scratch = vmm_zalloc(MAX_IVL * sizeof(*scratch));
	if (!vm->slots || !vm->free_ids || !scratch)
		goto fail;
	uintptr_t a = vmm_map_aligned(ARENA_SIZE, ARENA_ALIGN,
				      PROT_READ | PROT_WRITE);
	if (!a)
		goto fail;
	vm->arena = (uint8_t *)a;
	/* The lock and the pool's bookkeeping live in the pool's first page:
	 * guest-side libdune writes them, and a dune_vm_clone() never makes
	 * that memory copy-on-write (libdune/vm.c). */
	vm->sh = (struct vmm_shared *)(uintptr_t)(a + ARENA_PT_OFF);
	vm->sh->pt_next = ARENA_PT_OFF + PAGE_SIZE;
	vm->sh->pt_top = ARENA_SIZE;
	vm->pt = (struct gl_pt){0, identity, vmm_pt_alloc, vm};
	r = vmm_pt_alloc(vm, &vm->pt.root);
	if (r)
		goto fail;
	/* The arena: one slot, mapped supervisor-only, never synced. */
	vm->priv[vm->npriv].start = a;
	vm->priv[vm->npriv].end = a + ARENA_SIZE;
	vm->npriv++;
	r = slot_add(vm, a, a + ARENA_SIZE);
	if (r)
		goto fail;
	/* Descriptor tables and IST stacks: ring 0 only. The pool (page
	 * tables and frames): user-writable, so that ring-3 code edits its
	 * page tables directly (libdune/vm.c); it can only reach memory
	 * backed by memslots, i.e. the process's own. */
	r = gl_pt_map(&vm->pt, a, a, ARENA_PT_OFF, PTE_W | PTE_NX | PTE_PS);
	if (!r)
		r = gl_pt_map(&vm->pt, a + ARENA_PT_OFF, a + ARENA_PT_OFF,
			      ARENA_SIZE - ARENA_PT_OFF,
			      PTE_W | PTE_U | PTE_NX | PTE_PS);
	if (r)
		goto fail;
	mem_lock(vm);
	r = sync_locked(vm, 0, GVA_USER_END, 0);
	mem_unlock(vm);
	if (r)
		goto fail;
	return 0;
fail:
	vmm_mem_fini(vm);
	return r;
}

void vmm_mem_fini(struct vmm *vm)
{
	/* Slots die with the VM fd; only host memory is ours to free. */
	if (vm->arena)
		vmm_sys2(SYS_munmap, vm->arena, ARENA_SIZE);
	vm->arena = NULL;
	vmm_free(vm->slots, (size_t)vm->max_slots * sizeof(*vm->slots));
	vmm_free(vm->free_ids, (size_t)vm->max_slots * sizeof(uint32_t));
	vm->slots = NULL;
	vm->free_ids = NULL;
	vm->nslots = 0;
}
