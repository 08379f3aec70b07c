/* vmm/ram.c: the authority over guest-physical memory beyond the process's
 * own mappings (DUNE_SYS_RAM, dune/abi.h).
 *
 * Grants live in one host window, reserved PROT_NONE at the first grant
 * and private to the vmm (never synced, never reachable through forwarded
 * address-space syscalls). A grant is host memory mapped into the window,
 * a memslot over exactly that range (guest-physical == host-virtual, like
 * the rest of the guest) and a user-writable view at the same guest-
 * virtual address, so guestlib and syscalls see the same bytes. Freeing a
 * grant removes the view and the memslot (KVM flushes every vCPU's
 * translations of it) and gives the memory back to the host: from then on
 * no page-table entry, however written, reaches those bytes.
 *
 * Also here: guest-owned virtual ranges (RESERVE), and page-table roots
 * that share the process's top-level entries (SHARE_ROOT). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sys.h"
#include "vmm.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)
#define RAM_MAX_DEFAULT (4 * GiB)
#define WINDOW_ALIGN GiB
#define MPOL_BIND_ 2
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

static int pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* "always" or "madvise" selected in the THP setting (read once). */
static int thp_usable(void)
{
	static int known = -1;
	if (known >= 0)
		return known;
	char buf[128];
	known = vmm_read_text("/sys/kernel/mm/transparent_hugepage/enabled",
			      buf, sizeof(buf)) > 0 &&
		!strstr(buf, "[never]");
	return known;
}

/* A host range of len bytes aligned to align, PROT_NONE, reserved only
 * and private (never synced, refused to guest address-space calls).
 * Returns the address or -errno. */
static long reserve_private(struct vmm *vm, uint64_t len, uint64_t align)
{
	uint64_t a = vmm_map_aligned(len, align, PROT_NONE);
	if (!a)
		return -ENOMEM;
	int r = vmm_mem_add_private(vm, a, a + len);
	if (r) {
		vmm_sys2(SYS_munmap, a, len);
		return r;
	}
	return (long)a;
}

/* Put the PROT_NONE reservation back over [a, a+len) (drops the memory). */
static void unback(uint64_t a, uint64_t len)
{
	vmm_mmap((void *)(uintptr_t)a, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
		 0);
}

/* The budget: DUNE_RAM_MAX_MB or the default, in 2 MiB units. */
static uint64_t ram_max(void)
{
	const char *env = getenv("DUNE_RAM_MAX_MB");
	uint64_t max = RAM_MAX_DEFAULT;
	if (env && atol(env) > 0)
		max = (uint64_t)atol(env) * MiB;
	return (max + 2 * MiB - 1) & ~(2 * MiB - 1);
}

static int window_init(struct vmm *vm)
{
	struct vmm_ram *ram = &vm->ram;
	if (ram->window)
		return 0;
	ram->max_bytes = ram_max();
	/* Twice the budget, so that alignment and holes never make a grant
	 * within the budget fail. */
	uint64_t size = 2 * ram->max_bytes;
	long w = reserve_private(vm, size, WINDOW_ALIGN);
	if (w < 0)
		return (int)w;
	ram->window = (uint64_t)w;
	ram->window_size = size;
	return 0;
}

/* First fit for size bytes at align inside the window, between grants
 * (sorted by base). Returns the address or 0. */
static uint64_t place(const struct vmm_ram *ram, uint64_t size,
		      uint64_t align, int *at)
{
	uint64_t lo = ram->window;
	for (int i = 0; i <= ram->ng; i++) {
		uint64_t hi = i < ram->ng ? ram->g[i].base
					  : ram->window + ram->window_size;
		uint64_t a = (lo + align - 1) & ~(align - 1);
		if (a >= lo && a <= hi && hi - a >= size) {
			*at = i;
			return a;
		}
		if (i < ram->ng)
			lo = ram->g[i].base + ram->g[i].size;
	}
	return 0;
}

static long ram_alloc(struct vmm *vm, struct dune_ram_req *q)
{
	struct vmm_ram *ram = &vm->ram;
	int huge = q->host_pages != DUNE_HOST_PAGES_4K;
	uint64_t align = q->align ? q->align : PAGE_SIZE;
	if (q->host_pages < DUNE_HOST_PAGES_4K ||
	    q->host_pages > DUNE_HOST_PAGES_HUGETLB || q->host_node < -1 ||
	    q->host_node >= 64 || !pow2(align) || align < PAGE_SIZE ||
	    align > WINDOW_ALIGN || !q->size || (q->size & (PAGE_SIZE - 1)))
		return -EINVAL;
	if (huge && (q->size & (2 * MiB - 1)))
		return -EINVAL;
	if (huge && align < 2 * MiB)
		align = 2 * MiB;
	int r = window_init(vm);
	if (r)
		return r;
	vmm_mem_lock(vm);
	int at;
	uint64_t a = 0;
	if (ram->ng >= VMM_MAX_GRANTS)
		r = -ENOSPC;
	else if (q->size > ram->max_bytes - ram->used)
		r = -ENOMEM;
	else if (!(a = place(ram, q->size, align, &at)))
		r = -ENOMEM;
	if (r)
		goto out;
	/* Host memory first, then its placement, then the slot and view. */
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	if (q->host_pages == DUNE_HOST_PAGES_HUGETLB)
		flags |= MAP_HUGETLB | MAP_HUGE_2MB; /* reserved now, or fails */
	else
		flags |= MAP_NORESERVE;
	void *p = vmm_mmap((void *)(uintptr_t)a, q->size,
			   PROT_READ | PROT_WRITE, flags, -1, 0);
	if (vmm_mmap_failed(p)) {
		unback(a, q->size);
		r = -ENOMEM;
		goto out;
	}
	if (q->host_pages != DUNE_HOST_PAGES_HUGETLB)
		vmm_sys3(SYS_madvise, a, q->size,
			 q->host_pages == DUNE_HOST_PAGES_THP ? MADV_HUGEPAGE
							      : MADV_NOHUGEPAGE);
	if (q->host_node >= 0) {
		uint64_t mask = 1ull << q->host_node;
		r = (int)vmm_sys6(SYS_mbind, (long)a, (long)q->size, MPOL_BIND_,
				  (long)&mask,
				  64, 0);
	}
	if (!r)
		r = vmm_mem_slot_add(vm, a, a + q->size);
	if (!r) {
		r = gl_pt_map(&vm->pt, a, a, q->size,
			      PTE_W | PTE_U | PTE_NX | PTE_PS);
		if (r) {
			gl_pt_unmap(&vm->pt, a, q->size);
			vmm_mem_slot_remove(vm, a);
		}
	}
	if (r) {
		unback(a, q->size);
		goto out;
	}
	for (int i = ram->ng; i > at; i--)
		ram->g[i] = ram->g[i - 1];
	ram->g[at] = (struct vmm_grant){a, q->size};
	ram->ng++;
	ram->used += q->size;
	q->base = a;
	q->thp = q->host_pages == DUNE_HOST_PAGES_THP && thp_usable();
out:
	vmm_mem_unlock(vm);
	return r;
}

/* The grant containing [a, a+len), or -1. Callers hold the lock. */
static int grant_of(const struct vmm_ram *ram, uint64_t a, uint64_t len)
{
	for (int i = 0; i < ram->ng; i++)
		if (a >= ram->g[i].base && len <= ram->g[i].size &&
		    a - ram->g[i].base <= ram->g[i].size - len)
			return i;
	return -1;
}

static long ram_free(struct vmm *vm, uint64_t a, uint64_t len)
{
	struct vmm_ram *ram = &vm->ram;
	vmm_mem_lock(vm);
	int i = grant_of(ram, a, len);
	if (i < 0 || ram->g[i].base != a || ram->g[i].size != len) {
		vmm_mem_unlock(vm);
		return -EINVAL;
	}
	gl_pt_unmap(&vm->pt, a, len); /* cannot fail: no large page split */
	vmm_mem_slot_remove(vm, a);
	unback(a, len);
	ram->used -= len;
	for (; i + 1 < ram->ng; i++)
		ram->g[i] = ram->g[i + 1];
	ram->ng--;
	vmm_mem_unlock(vm);
	return 0;
}

static long ram_zero(struct vmm *vm, uint64_t a, uint64_t len)
{
	if (!len || ((a | len) & (PAGE_SIZE - 1)))
		return -EINVAL;
	vmm_mem_lock(vm);
	long r = grant_of(&vm->ram, a, len) < 0 ? -EINVAL : 0;
	if (!r && vmm_sys3(SYS_madvise, a, len, MADV_DONTNEED))
		vmm_page_zero((void *)(uintptr_t)a, len); /* e.g. hugetlb */
	vmm_mem_unlock(vm);
	return r;
}

static long ram_reserve(struct vmm *vm, uint64_t len, uint64_t align)
{
	struct vmm_ram *ram = &vm->ram;
	if (!len || (len & (2 * MiB - 1)) || !pow2(align) ||
	    align < 2 * MiB || align > (512 * GiB) || len > (64ull << 40))
		return -EINVAL;
	if (ram->nres >= VMM_MAX_RESERVED)
		return -ENOSPC;
	long a = reserve_private(vm, len, align);
	if (a < 0)
		return a;
	vmm_mem_lock(vm);
	ram->res[ram->nres].start = (uint64_t)a;
	ram->res[ram->nres].end = (uint64_t)a + len;
	ram->nres++;
	vmm_mem_unlock(vm);
	return a;
}

static long ram_unreserve(struct vmm *vm, uint64_t a, uint64_t len)
{
	struct vmm_ram *ram = &vm->ram;
	vmm_mem_lock(vm);
	int i;
	for (i = 0; i < ram->nres; i++)
		if (ram->res[i].start == a && ram->res[i].end - a == len)
			break;
	if (i == ram->nres) {
		vmm_mem_unlock(vm);
		return -EINVAL;
	}
	ram->res[i] = ram->res[--ram->nres];
	gl_pt_unmap(&vm->pt, a, len);
	vmm_mem_unlock(vm);
	vmm_mem_del_private(vm, a, a + len);
	vmm_sys2(SYS_munmap, a, len);
	return 0;
}

/* User-half top-level entries of the process's table that root lacks.
 * Callers hold the lock. Returns how many were copied. */
static int fill_root(struct vmm *vm, uint64_t *root)
{
	const uint64_t *src = (const uint64_t *)(uintptr_t)vm->pt.root;
	int n = 0;
	for (int i = 0; i < PT_ENTRIES / 2; i++)
		if (!(root[i] & PTE_P) && (src[i] & PTE_P)) {
			root[i] = src[i];
			n++;
		}
	return n;
}

static long ram_share_root(struct vmm *vm, uint64_t root, int forget)
{
	struct vmm_ram *ram = &vm->ram;
	if (!vmm_pool_page(vm, root) || root == vm->pt.root)
		return -EINVAL;
	long r = 0;
	vmm_mem_lock(vm);
	int i;
	for (i = 0; i < ram->nroots && ram->roots[i] != root; i++)
		;
	if (forget) {
		if (i == ram->nroots)
			r = -EINVAL;
		else
			ram->roots[i] = ram->roots[--ram->nroots];
	} else if (i == ram->nroots) {
		if (ram->nroots >= VMM_MAX_SHARED_ROOTS)
			r = -ENOSPC;
		else
			ram->roots[ram->nroots++] = root;
	}
	if (!r && !forget)
		fill_root(vm, (uint64_t *)(uintptr_t)root);
	vmm_mem_unlock(vm);
	return r;
}

int vmm_ram_refresh_root(struct vmm *vm, uint64_t cr3)
{
	struct vmm_ram *ram = &vm->ram;
	uint64_t root = cr3 & PTE_ADDR_MASK;
	int n = 0;
	if (root == vm->pt.root || !ram->nroots)
		return 0;
	vmm_mem_lock(vm);
	for (int i = 0; i < ram->nroots; i++)
		if (ram->roots[i] == root)
			n = fill_root(vm, (uint64_t *)(uintptr_t)root);
	vmm_mem_unlock(vm);
	return n;
}

long vmm_sys_ram(struct vmm_vcpu *v, uint64_t op, uint64_t a1, uint64_t a2)
{
	struct vmm *vm = v->vm;
	switch (op) {
	case DUNE_RAM_ALLOC: {
		struct dune_ram_req q;
		if (vmm_copy_from_guest(vm, &q, a1, sizeof(q)))
			return -EFAULT;
		long r = ram_alloc(vm, &q);
		if (!r && vmm_copy_to_guest(vm, a1, &q, sizeof(q))) {
			ram_free(vm, q.base, q.size);
			return -EFAULT;
		}
		return r;
	}
	case DUNE_RAM_FREE:
		return ram_free(vm, a1, a2);
	case DUNE_RAM_ZERO:
		return ram_zero(vm, a1, a2);
	case DUNE_RAM_LIMITS: {
		struct dune_ram_limits l;
		vmm_mem_lock(vm);
		l.window = vm->ram.window;
		l.window_size = vm->ram.window_size;
		l.max_bytes = vm->ram.max_bytes;
		l.used_bytes = vm->ram.used;
		l.max_grants = VMM_MAX_GRANTS;
		l.used_grants = (uint32_t)vm->ram.ng;
		vmm_mem_unlock(vm);
		if (!l.window) /* nothing granted yet: what it would be */
			l.max_bytes = ram_max();
		return vmm_copy_to_guest(vm, a1, &l, sizeof(l)) ? -EFAULT : 0;
	}
	case DUNE_RAM_RESERVE:
		return ram_reserve(vm, a1, a2);
	case DUNE_RAM_UNRESERVE:
		return ram_unreserve(vm, a1, a2);
	case DUNE_RAM_SHARE_ROOT:
		return ram_share_root(vm, a1, a2 == 1);
	case DUNE_RAM_TLB_SHOOTDOWN:
		return vmm_tlb_shootdown(v);
	default:
		return -EINVAL;
	}
}

void vmm_ram_fini(struct vmm *vm)
{
	/* Slots die with the VM fd; give back the host memory. */
	struct vmm_ram *ram = &vm->ram;
	if (ram->window)
		vmm_sys2(SYS_munmap, ram->window, ram->window_size);
	for (int i = 0; i < ram->nres; i++)
		vmm_sys2(SYS_munmap, ram->res[i].start,
			 ram->res[i].end - ram->res[i].start);
	memset(ram, 0, sizeof(*ram));
}
