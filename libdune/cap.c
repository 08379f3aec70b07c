/* libdune/cap.c: dune/cap.h on real memory. guestlib/cap.c keeps the rules
 * (pure logic); this file binds them to the vmm's grants (DUNE_SYS_RAM),
 * flushes the TLB after every removal, tracks the properties of each
 * grant, and joins cap-built tables to the process's page table (grafts,
 * shared roots). Everything runs in the guest; only the authority calls
 * (grant, return, zero, reserve, share a root) exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cap.h"
#include "dune/cap.h"
#include "gl.h"
#include "sys.h"
#include "vmm.h"

_Static_assert(DUNE_CAP_VNODE_PML4 == (int)GL_CAP_VNODE_PML4 &&
		   DUNE_CAP_FRAME == (int)GL_CAP_FRAME,
	       "dune/cap.h and guestlib/cap.h agree on types");
_Static_assert(DUNE_CAP_ALL == GL_CAP_ALL, "and on rights");

#define MAX_GRAFTS 256
#define ZERO_BY_VMM (64u << 10) /* larger retypes: one exit, no touching */

struct grant {
	uint64_t base, size;
	int node, host_node, host_pages, thp;
};

struct graft {
	uint64_t root; /* table the entry is in (physical) */
	uint64_t va;
	uint64_t vnode; /* base of the grafted vnode */
	uint64_t *entry;
};

static struct {
	pthread_mutex_t lock;
	uint64_t gen; /* the VM this state belongs to */
	struct gl_cap_space cs;
	size_t slots_bytes;
	struct grant grants[VMM_MAX_GRANTS];
	int ngrants;
	struct {
		uint64_t start, end;
	} res[VMM_MAX_RESERVED];
	int nres;
	struct graft grafts[MAX_GRAFTS];
	int ngrafts;
} st = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *identity(void *ctx, uint64_t pa)
{
	(void)ctx;
	return (void *)(uintptr_t)pa; /* grants: gpa == the view's gva */
}

/* Integer stores only: if KVM still write-protects the page as a former
 * page table (shadow paging), it emulates the stores, and its emulator
 * has no vector instructions (libc's memset has). */
static void zero(void *ctx, uint64_t pa, uint64_t len)
{
	(void)ctx;
	if (len >= ZERO_BY_VMM &&
	    !vmm_sys3(DUNE_SYS_RAM, DUNE_RAM_ZERO, pa, len))
		return;
	void *p = (void *)(uintptr_t)pa;
	uint64_t n = len / 8;
	__asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0ull) : "memory");
}

/* Forget the cap space (its VM is gone, or this is another VM's). */
static void reset_locked(void)
{
	if (st.cs.slots)
		munmap(st.cs.slots, st.slots_bytes);
	memset(&st.cs, 0, sizeof(st.cs));
	st.gen = 0;
	st.ngrants = st.nres = st.ngrafts = 0;
}

/* Take the lock with a cap space for this VM (a forked child starts with
 * an empty one: its parent's grants are not its own). 0 or -EPERM. */
static int enter(void)
{
	if (!vmm_g || !dune_inside_cached())
		return -EPERM;
	pthread_mutex_lock(&st.lock);
	if (st.gen == vmm_g->gen)
		return 0;
	uint32_t n = DUNE_CAP_SLOTS;
	const char *env = getenv("DUNE_CAP_SLOTS");
	if (env && atol(env) >= 16 && atol(env) <= (1 << 20))
		n = (uint32_t)atol(env);
	reset_locked();
	st.slots_bytes = n * sizeof(struct gl_cap);
	void *p = mmap(NULL, st.slots_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		st.cs.slots = NULL;
		pthread_mutex_unlock(&st.lock);
		return -ENOMEM;
	}
	st.cs = (struct gl_cap_space){.slots = p,
				      .nslots = n,
				      .gbpages = vmm_g->gbpages,
				      .pa_to_va = identity,
				      .zero = zero};
	st.gen = vmm_g->gen;
	return 0;
}

void dune_cap_forget(void)
{
	pthread_mutex_lock(&st.lock);
	reset_locked();
	pthread_mutex_unlock(&st.lock);
}

static int leave(int r)
{
	pthread_mutex_unlock(&st.lock);
	return r;
}

static long ram_call(uint64_t op, uint64_t a1, uint64_t a2)
{
	return vmm_sys3(DUNE_SYS_RAM, op, a1, a2);
}

/* ---- grants and their properties ------------------------------------ */
static struct grant *grant_of(uint64_t base)
{
	for (int i = 0; i < st.ngrants; i++)
		if (base >= st.grants[i].base &&
		    base - st.grants[i].base < st.grants[i].size)
			return &st.grants[i];
	return NULL;
}

/* The host's NUMA nodes, asked once (libnuma's check is a syscall, an
 * exit inside the guest); 0 without NUMA support. */
static int host_nodes(void)
{
	static atomic_int n = -1;
	int v = atomic_load(&n);
	if (v < 0) {
		v = numa_available() < 0 ? 0 : numa_num_configured_nodes();
		atomic_store(&n, v < 0 ? 0 : v);
	}
	return v;
}

int dune_cap_nodes(void)
{
	const char *env = getenv("DUNE_NUMA_NODES");
	if (env && atoi(env) >= 1 && atoi(env) <= 64)
		return atoi(env);
	return host_nodes() > 0 ? host_nodes() : 1;
}

static int host_node_for(int node)
{
	if (node < 0 || host_nodes() <= 0)
		return -1;
	return node % host_nodes();
}

int dune_cap_ram_alloc(uint64_t size, uint64_t align, int node,
		       int host_pages)
{
	if (node < -1 || node >= dune_cap_nodes())
		return -EINVAL;
	int r = enter();
	if (r)
		return r;
	if (st.ngrants >= VMM_MAX_GRANTS)
		return leave(-ENOSPC);
	struct dune_ram_req q = {.size = size,
				 .align = align,
				 .host_node = host_node_for(node),
				 .host_pages = host_pages};
	r = (int)ram_call(DUNE_RAM_ALLOC, (uint64_t)(uintptr_t)&q, 0);
	if (r)
		return leave(r);
	int slot = gl_cap_create_ram(&st.cs, q.base, q.size, GL_CAP_ALL);
	if (slot < 0) {
		ram_call(DUNE_RAM_FREE, q.base, q.size);
		return leave(slot);
	}
	st.grants[st.ngrants++] = (struct grant){q.base, q.size, node,
						 q.host_node, host_pages,
						 q.thp};
	return leave(slot);
}

int dune_cap_ram_limits(struct dune_ram_limits *out)
{
	if (!vmm_g || !dune_inside_cached())
		return -EPERM;
	return (int)ram_call(DUNE_RAM_LIMITS, (uint64_t)(uintptr_t)out, 0);
}

/* ---- removal: flush, stale grafts, grants nobody holds --------------- */
static int vnode_alive(uint64_t base)
{
	for (uint32_t i = 0; i < st.cs.nslots; i++) {
		const struct gl_cap *c = &st.cs.slots[i];
		if (c->type >= GL_CAP_VNODE_PT && c->type <= GL_CAP_VNODE_PML4 &&
		    c->base == base)
			return 1;
	}
	return 0;
}

static void graft_drop(int i)
{
	*st.grafts[i].entry = 0;
	st.grafts[i] = st.grafts[--st.ngrafts];
}

/* After caps went away: a graft whose vnode died would let its memory,
 * retyped into a frame, be read as a page table; clear it. A grant no cap
 * covers goes back to the vmm. Then one flush for everything. */
static void after_removal(void)
{
	for (int i = st.ngrafts - 1; i >= 0; i--)
		if (!vnode_alive(st.grafts[i].vnode))
			graft_drop(i);
	for (int g = st.ngrants - 1; g >= 0; g--) {
		int held = 0;
		for (uint32_t i = 0; i < st.cs.nslots && !held; i++)
			held = st.cs.slots[i].type == GL_CAP_RAM &&
			       !st.cs.slots[i].parent_obj &&
			       st.cs.slots[i].base == st.grants[g].base;
		if (held)
			continue;
		ram_call(DUNE_RAM_FREE, st.grants[g].base, st.grants[g].size);
		st.grants[g] = st.grants[--st.ngrants];
	}
	dune_flush_tlb_all();
}

int dune_cap_delete(int slot)
{
	int r = enter();
	if (r)
		return r;
	r = gl_cap_delete(&st.cs, slot);
	if (!r)
		after_removal();
	return leave(r);
}

int dune_cap_revoke(int slot)
{
	int r = enter();
	if (r)
		return r;
	r = gl_cap_revoke(&st.cs, slot);
	if (!r)
		after_removal();
	return leave(r);
}

int dune_cap_unmap_many(const struct dune_cap_unmap *u, unsigned n,
			uint64_t *ad)
{
	int r = enter();
	if (r)
		return r;
	if (!n)
		return leave(-EINVAL);
	for (unsigned i = 0; i < n; i++) {
		r = gl_cap_unmap_check(&st.cs, u[i].src, u[i].table,
				       u[i].index);
		if (r)
			return leave(r);
	}
	uint64_t bits = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = 0; /* a repeated request finds nothing left */
		gl_cap_unmap(&st.cs, u[i].src, u[i].table, u[i].index, &b);
		bits |= b;
	}
	dune_flush_tlb_all();
	if (ad)
		*ad = bits;
	return leave(0);
}

int dune_cap_unmap_ad(int src, int table, int index, uint64_t *ad)
{
	struct dune_cap_unmap u = {src, table, index};
	return dune_cap_unmap_many(&u, 1, ad);
}

int dune_cap_unmap(int src, int table, int index)
{
	return dune_cap_unmap_ad(src, table, index, NULL);
}

/* ---- the rest of the cap space --------------------------------------- */
int dune_cap_retype(int src, enum dune_cap_type type, uint64_t offset,
		    uint64_t objsize, unsigned count, int dest)
{
	int r = enter();
	if (r)
		return r;
	return leave(gl_cap_retype(&st.cs, src, (enum gl_cap_type)type, offset,
				   objsize, count, dest));
}

int dune_cap_copy(int src, int dest)
{
	int r = enter();
	return r ? r : leave(gl_cap_copy(&st.cs, src, dest));
}

int dune_cap_mint(int src, int dest, unsigned rights)
{
	int r = enter();
	return r ? r : leave(gl_cap_mint(&st.cs, src, dest, rights));
}

int dune_cap_install(int table, int index, int src, uint64_t flags,
		     uint64_t offset, unsigned count)
{
	int r = enter();
	if (r)
		return r;
	return leave(
	    gl_cap_install(&st.cs, table, index, src, flags, offset, count));
}

int dune_cap_identify(int slot, struct dune_cap_info *info)
{
	struct gl_cap_info gi;
	int r = enter();
	if (r)
		return r;
	r = gl_cap_identify(&st.cs, slot, &gi);
	if (!r) {
		const struct grant *g = grant_of(gi.base);
		memset(info, 0, sizeof(*info));
		info->type = (enum dune_cap_type)gi.type;
		info->rights = gi.rights;
		info->base = gi.base;
		info->size = gi.size;
		info->node = g ? g->node : -1;
		info->host_node = g ? g->host_node : -1;
		info->host_pages = g ? g->host_pages : 0;
		info->thp = g ? g->thp : 0;
		info->grant_base = g ? g->base : 0;
		info->grant_size = g ? g->size : 0;
	}
	return leave(r);
}

int dune_cap_free_slots(unsigned count)
{
	int r = enter();
	if (r)
		return r;
	if (!count)
		return leave(-EINVAL);
	unsigned run = 0;
	for (uint32_t i = 0; i < st.cs.nslots; i++) {
		run = st.cs.slots[i].type == GL_CAP_NULL ? run + 1 : 0;
		if (run == count)
			return leave((int)(i + 1 - count));
	}
	return leave(-ENOSPC);
}

void *dune_cap_va(int slot)
{
	if (enter())
		return NULL;
	void *va = NULL;
	if (slot >= 0 && (uint32_t)slot < st.cs.nslots &&
	    st.cs.slots[slot].type != GL_CAP_NULL)
		va = (void *)(uintptr_t)st.cs.slots[slot].base;
	leave(0);
	return va;
}

int dune_cap_check(const char **why)
{
	int r = enter();
	if (r)
		return r;
	r = gl_cap_check(&st.cs);
	if (why)
		*why = st.cs.why;
	return leave(r);
}

/* ---- the default address space: reservations, grafts, roots --------- */
void *dune_cap_reserve(size_t len, size_t align)
{
	int r = enter();
	if (r) {
		errno = -r;
		return NULL;
	}
	long a = st.nres >= VMM_MAX_RESERVED
		     ? -ENOSPC
		     : ram_call(DUNE_RAM_RESERVE, len, align);
	if (a < 0) {
		leave(0);
		errno = (int)-a;
		return NULL;
	}
	st.res[st.nres].start = (uint64_t)a;
	st.res[st.nres].end = (uint64_t)a + len;
	st.nres++;
	leave(0);
	return (void *)a;
}

int dune_cap_unreserve(void *va, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r = enter();
	if (r)
		return r;
	int i;
	for (i = 0; i < st.nres; i++)
		if (st.res[i].start == a && st.res[i].end - a == len)
			break;
	if (i == st.nres)
		return leave(-EINVAL);
	for (int g = st.ngrafts - 1; g >= 0; g--)
		if (st.grafts[g].va >= a && st.grafts[g].va - a < len)
			graft_drop(g);
	dune_flush_tlb_all();
	r = (int)ram_call(DUNE_RAM_UNRESERVE, a, len);
	if (!r)
		st.res[i] = st.res[--st.nres];
	return leave(r);
}

static int reserved(uint64_t va, uint64_t len)
{
	for (int i = 0; i < st.nres; i++)
		if (va >= st.res[i].start && len <= st.res[i].end - va)
			return 1;
	return 0;
}

static struct gl_cap *live_vnode(int slot)
{
	if (slot < 0 || (uint32_t)slot >= st.cs.nslots)
		return NULL;
	struct gl_cap *c = &st.cs.slots[slot];
	return c->type >= GL_CAP_VNODE_PT && c->type <= GL_CAP_VNODE_PML4
		   ? c
		   : NULL;
}

/* The entry of `root` at `level` for va, making missing implicit tables
 * above it (pool pages, the vmm's). Not gl_pt_walk(): a large page is
 * refused (-EBUSY), not split, and the walk never enters a table that is
 * not the pool's, i.e. an earlier graft: its entries belong to the cap
 * space (-EEXIST). Callers hold the memory lock. */
static uint64_t *entry_for(uint64_t root, uint64_t va, int level, int *err)
{
	uint64_t *t = (uint64_t *)(uintptr_t)root;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[PT_INDEX(va, l)];
		if (!(*e & PTE_P)) {
			uint64_t pa;
			*err = vmm_pt_alloc(vmm_g, &pa);
			if (*err)
				return NULL;
			*e = pa | PTE_P | PTE_W | PTE_U;
		} else if (*e & PTE_PS) {
			*err = -EBUSY;
			return NULL;
		} else if (!vmm_pool_page(vmm_g, *e & PTE_ADDR_MASK)) {
			*err = -EEXIST;
			return NULL;
		}
		t = (uint64_t *)(uintptr_t)(*e & PTE_ADDR_MASK);
	}
	return &t[PT_INDEX(va, level)];
}

int dune_cap_graft(ptent_t *root, void *va, int vnode)
{
	uint64_t v = (uint64_t)(uintptr_t)va;
	int r = enter();
	if (r)
		return r;
	uint64_t rt = root ? (uint64_t)(uintptr_t)root : vmm_g->pt.root;
	struct gl_cap *c = live_vnode(vnode);
	if (!c)
		return leave(vnode < 0 || (uint32_t)vnode >= st.cs.nslots ||
				     st.cs.slots[vnode].type == GL_CAP_NULL
				 ? -EBADF
				 : -EINVAL);
	int level = c->type - GL_CAP_VNODE_PT + 2; /* of the entry */
	uint64_t span = PT_LEVEL_SIZE(level); /* what the entry maps */
	/* A shared root shares the tables below its top level: graft there
	 * only, or the graft would show in every root. */
	if (level > 4 || (v & (span - 1)) || (rt != vmm_g->pt.root && level != 4))
		return leave(-EINVAL);
	if (!reserved(v, span))
		return leave(-EFAULT);
	if (st.ngrafts >= MAX_GRAFTS)
		return leave(-ENOSPC);
	vmm_mem_lock(vmm_g);
	uint64_t *e = entry_for(rt, v, level, &r);
	if (e && (*e & PTE_P))
		r = -EEXIST;
	if (!r) {
		*e = c->base | PTE_P | PTE_W | PTE_U;
		st.grafts[st.ngrafts++] = (struct graft){rt, v, c->base, e};
	}
	vmm_mem_unlock(vmm_g);
	return leave(r);
}

int dune_cap_ungraft(ptent_t *root, void *va)
{
	uint64_t v = (uint64_t)(uintptr_t)va;
	int r = enter();
	if (r)
		return r;
	uint64_t rt = root ? (uint64_t)(uintptr_t)root : vmm_g->pt.root;
	for (int i = 0; i < st.ngrafts; i++)
		if (st.grafts[i].root == rt && st.grafts[i].va == v) {
			graft_drop(i);
			dune_flush_tlb_all();
			return leave(0);
		}
	return leave(-ENOENT);
}

ptent_t *dune_cap_root_new(void)
{
	uint64_t pa;
	if (enter())
		return NULL;
	vmm_mem_lock(vmm_g);
	int r = vmm_pt_alloc(vmm_g, &pa);
	vmm_mem_unlock(vmm_g);
	if (!r && ram_call(DUNE_RAM_SHARE_ROOT, pa, 0)) {
		vmm_mem_lock(vmm_g);
		vmm_page_free(vmm_g, pa);
		vmm_mem_unlock(vmm_g);
		r = -ENOMEM;
	}
	leave(0);
	return r ? NULL : (ptent_t *)(uintptr_t)pa;
}

void dune_cap_root_free(ptent_t *root)
{
	uint64_t rt = (uint64_t)(uintptr_t)root;
	if (!root || enter())
		return;
	if (!ram_call(DUNE_RAM_SHARE_ROOT, rt, 1)) {
		for (int i = st.ngrafts - 1; i >= 0; i--)
			if (st.grafts[i].root == rt)
				graft_drop(i);
		vmm_mem_lock(vmm_g);
		vmm_page_free(vmm_g, rt); /* its entries are shared: keep them */
		vmm_mem_unlock(vmm_g);
	}
	leave(0);
}
