/* libdune/vspace.c: dune/vspace.h: the vspace (reservation, replicas,
 * tables), its regions, and the #PF handler that sends each fault to its
 * region's memory object (pager.c) or back to dune. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dune/dune.h"
#include "dune/trap.h"
#include "vspace_int.h"

#define VS_FLAGS (VS_R | VS_W | VS_X | VS_PAGE_2M)

/* The one vspace (the process has one #PF handler). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vspace *volatile the_vs;
static _Thread_local int tl_node = -1;

int vs_thread_node(void)
{
	return tl_node < 0 ? 0 : tl_node;
}

/* ---- tables ----------------------------------------------------------- */
static struct vs_gib *gib_of(struct vspace *vs, uintptr_t va)
{
	return vs->gib[(va - vs->base) >> 30];
}

static uint64_t leaf_flags(unsigned flags)
{
	return DUNE_PTE_U | (flags & VS_W ? DUNE_PTE_W : 0) |
	       (flags & VS_X ? 0 : DUNE_PTE_NX);
}

/* Make the PD of GiB g in every replica (when a region first covers it). */
static int gib_get(struct vspace *vs, int g)
{
	if (vs->gib[g]) {
		vs->gib[g]->nuse++;
		return 0;
	}
	struct vs_gib *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t->pt, -1, sizeof(t->pt));
	int r = 0, k;
	for (k = 0; k < vs->nrep && !r; k++) {
		uint64_t pa;
		int s = vs_obj_alloc(vs, vs->rep[k].node, 0,
				     DUNE_CAP_VNODE_PD, &pa);
		if (s < 0) {
			r = s;
			break;
		}
		r = dune_cap_install(vs->rep[k].pdpt, g, s, DUNE_PTE_W |
				     DUNE_PTE_U, 0, 1);
		if (r) {
			vs_obj_free(vs, s);
			break;
		}
		t->pd[k] = s;
		t->pdv[k] = (ptent_t *)(uintptr_t)pa;
	}
	if (r) {
		while (k-- > 0)
			vs_obj_free(vs, t->pd[k]); /* clears its PDPT entry */
		free(t);
		return r;
	}
	t->nuse = 1;
	vs->gib[g] = t;
	return 0;
}

static void gib_put(struct vspace *vs, int g)
{
	struct vs_gib *t = vs->gib[g];
	if (--t->nuse)
		return;
	for (int k = 0; k < vs->nrep; k++)
		vs_obj_free(vs, t->pd[k]);
	free(t);
	vs->gib[g] = NULL;
}

/* The PT of the 2 MiB at va in replica k, made on first use. */
static int pt_get(struct vspace *vs, uintptr_t va, int k)
{
	struct vs_gib *t = gib_of(vs, va);
	int c = (int)((va >> 21) & 511);
	if (t->pt[k][c] >= 0)
		return 0;
	uint64_t pa;
	int s = vs_obj_alloc(vs, vs->rep[k].node, 0, DUNE_CAP_VNODE_PT, &pa);
	if (s < 0)
		return s;
	int r = dune_cap_install(t->pd[k], c, s, DUNE_PTE_W | DUNE_PTE_U, 0, 1);
	if (r) {
		vs_obj_free(vs, s);
		return r;
	}
	t->pt[k][c] = s;
	t->ptv[k][c] = (ptent_t *)(uintptr_t)pa;
	return 0;
}

/* A 2 MiB piece no region overlaps any more: its PTs go. */
static void chunk_put(struct vspace *vs, uintptr_t va)
{
	struct vs_gib *t = gib_of(vs, va);
	int c = (int)((va >> 21) & 511);
	if (--t->use[c])
		return;
	for (int k = 0; k < vs->nrep; k++)
		if (t->pt[k][c] >= 0) {
			vs_obj_free(vs, t->pt[k][c]);
			t->pt[k][c] = -1;
			t->ptv[k][c] = NULL;
		}
}

void vs_page_ptes(struct vs_region *r, uint32_t i, ptent_t **out)
{
	struct vspace *vs = r->vs;
	uintptr_t va = r->start + ((uintptr_t)i << r->shift);
	struct vs_gib *t = gib_of(vs, va);
	int c = (int)((va >> 21) & 511);
	for (int k = 0; k < vs->nrep; k++) {
		if (r->shift == 21)
			out[k] = &t->pdv[k][c];
		else
			out[k] = t->ptv[k][c] ? &t->ptv[k][c][(va >> 12) & 511]
					      : NULL;
	}
}

/* The table (slot) and index page i's entry lives at in replica k. */
static void page_slot(struct vs_region *r, uint32_t i, int k, int *table,
		      int *index)
{
	uintptr_t va = r->start + ((uintptr_t)i << r->shift);
	struct vs_gib *t = gib_of(r->vs, va);
	int c = (int)((va >> 21) & 511);
	if (r->shift == 21) {
		*table = t->pd[k];
		*index = c;
	} else {
		*table = t->pt[k][c];
		*index = (int)((va >> 12) & 511);
	}
}

int vs_map_run(struct vs_region *r, uint32_t i, uint32_t count, int slot,
	       uint64_t offset)
{
	struct vspace *vs = r->vs;
	uintptr_t va = r->start + ((uintptr_t)i << r->shift);
	int k, e = 0;
	for (k = 0; k < vs->nrep; k++) {
		int table, index;
		if (r->shift == 12 && (e = pt_get(vs, va, k)))
			break;
		page_slot(r, i, k, &table, &index);
		e = dune_cap_install(table, index, slot, leaf_flags(r->flags),
				     offset, count);
		if (e)
			break;
	}
	if (e)
		while (k-- > 0) {
			int table, index;
			page_slot(r, i, k, &table, &index);
			dune_cap_unmap(slot, table, index);
		}
	return e;
}

uint64_t vs_unmap_page(struct vs_region *r, uint32_t i, int slot)
{
	struct dune_cap_unmap u[VSPACE_MAX_NODES];
	uint64_t ad = 0;
	for (int k = 0; k < r->vs->nrep; k++) {
		u[k].src = slot;
		page_slot(r, i, k, &u[k].table, &u[k].index);
	}
	/* One flush for every replica. */
	dune_cap_unmap_many(u, (unsigned)r->vs->nrep, &ad);
	return ad;
}

/* ---- the fault handler ------------------------------------------------ */
static struct vs_region *region_at(struct vspace *vs, uintptr_t va)
{
	int lo = 0, hi = vs->nregions - 1;
	while (lo <= hi) {
		int m = (lo + hi) / 2;
		struct vs_region *r = vs->regions[m];
		if (va < r->start)
			hi = m - 1;
		else if (va - r->start >= r->len)
			lo = m + 1;
		else
			return r;
	}
	return NULL;
}

static int access_ok(const struct vs_region *r, uint64_t fec)
{
	if ((fec & DUNE_PF_W) && !(r->flags & VS_W))
		return 0;
	if ((fec & DUNE_PF_I) && !(r->flags & VS_X))
		return 0;
	return (r->flags & (VS_R | VS_W | VS_X)) != 0;
}

/* Resolve a fault; 1 if it is not ours (hand it back to dune). */
static __attribute__((noinline)) int vs_fault(uintptr_t addr, uint64_t fec)
{
	struct vspace *vs = the_vs;
	if (!vs || addr - vs->base >= VSPACE_SIZE)
		return 1;
	pthread_mutex_lock(&vs->lock);
	struct vs_region *r = region_at(vs, addr);
	vs_fault_cb cb = r ? r->cb : NULL;
	void *arg = r ? r->cb_arg : NULL;
	pthread_mutex_unlock(&vs->lock);
	if (!r)
		goto pass;
	if (cb) {
		int c = cb(r, addr, fec, arg);
		if (c == VS_CB_RESOLVED)
			return 0;
		if (c != VS_CB_DEFAULT)
			goto pass;
	}
	pthread_mutex_lock(&vs->lock);
	r = region_at(vs, addr); /* it may have gone meanwhile */
	int e = 1;
	if (r && access_ok(r, fec)) {
		uint32_t i = (uint32_t)((addr - r->start) >> r->shift);
		int node = r->node >= 0		       ? r->node
			   : r->node == VS_NODE_LOCAL ? vs_thread_node()
						      : (int)(i % (uint32_t)vs->nnodes);
		e = vs_pager_fault(r, i, node); /* -errno: out of memory */
	}
	pthread_mutex_unlock(&vs->lock);
	if (!e)
		return 0;
pass:
	__atomic_fetch_add(&vs->passed, 1, __ATOMIC_RELAXED);
	return 1;
}

/* The upcall keeps the interrupted code's vector state (guestlib), so
 * this is plain C. */
static void vs_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	if (vs_fault(addr, fec))
		dune_pgflt_pass(addr, fec, tf); /* returns only on failure */
}

/* ---- vspace ----------------------------------------------------------- */
static int swap_open(void)
{
	const char *dirs[] = {getenv("DUNE_SWAP_DIR"), getenv("TMPDIR"),
			      "/var/tmp", "/tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
	}
	return -errno;
}

static void replicas_free(struct vspace *vs)
{
	/* The process's root first: a shared root copies in entries the
	 * process's table has and it lacks. */
	if (vs->grafted)
		dune_cap_ungraft(NULL, (void *)vs->base);
	vs->grafted = 0;
	for (int k = 0; k < vs->nrep; k++) {
		if (vs->rep[k].root) {
			dune_cap_ungraft(vs->rep[k].root, (void *)vs->base);
			dune_cap_root_free(vs->rep[k].root);
		}
		if (vs->rep[k].pdpt >= 0)
			vs_obj_free(vs, vs->rep[k].pdpt);
	}
	vs->nrep = 0;
}

static int replicas_make(struct vspace *vs, int n)
{
	int r = 0;
	for (int k = 0; k < n; k++) {
		struct vs_replica *p = &vs->rep[k];
		uint64_t pa;
		*p = (struct vs_replica){.node = k, .root = NULL, .pdpt = -1};
		vs->nrep = k + 1;
		int s = vs_obj_alloc(vs, k, 0, DUNE_CAP_VNODE_PDPT, &pa);
		if (s < 0) {
			r = s;
			goto fail;
		}
		p->pdpt = s;
		if (n == 1)
			break;
		if (!(p->root = dune_cap_root_new())) {
			r = -ENOMEM;
			goto fail;
		}
		r = dune_cap_graft(p->root, (void *)vs->base, s);
		if (r)
			goto fail;
	}
	r = dune_cap_graft(NULL, (void *)vs->base, vs->rep[0].pdpt);
	if (r)
		goto fail;
	vs->grafted = 1;
	return 0;
fail:
	replicas_free(vs);
	return r;
}

int vspace_create(unsigned flags, struct vspace **out)
{
	if (!out || (flags & ~VSPACE_REPLICATE))
		return -EINVAL;
	if (!dune_is_inside())
		return -EPERM;
	int nodes = flags & VSPACE_REPLICATE ? dune_cap_nodes() : 1;
	if (nodes > VSPACE_MAX_NODES)
		return -ENOTSUP;
	pthread_mutex_lock(&reg_lock);
	int r = the_vs ? -EBUSY : 0;
	struct vspace *vs = r ? NULL : calloc(1, sizeof(*vs));
	if (!r && !vs)
		r = -ENOMEM;
	if (r)
		goto out;
	pthread_mutex_init(&vs->lock, NULL);
	vs->flags = flags;
	vs->nnodes = dune_cap_nodes();
	for (int i = 0; i < VS_MAX_CHUNKS; i++)
		vs->chunks[i].slot = -1;
	vs->pagemap = -1;
	vs->swapfd = swap_open();
	if (vs->swapfd < 0) {
		r = vs->swapfd;
		goto fail_vs;
	}
	void *base = dune_cap_reserve(VSPACE_SIZE, VSPACE_SIZE);
	if (!base) {
		r = -errno;
		goto fail_fd;
	}
	vs->base = (uintptr_t)base;
	r = replicas_make(vs, nodes);
	if (r)
		goto fail_res;
	r = dune_register_pgflt_handler(vs_pgflt);
	if (r)
		goto fail_rep;
	the_vs = vs;
	*out = vs;
	goto out;
fail_rep:
	replicas_free(vs);
fail_res:
	vs_chunks_release(vs);
	dune_cap_unreserve(base, VSPACE_SIZE);
fail_fd:
	close(vs->swapfd);
fail_vs:
	pthread_mutex_destroy(&vs->lock);
	free(vs);
out:
	pthread_mutex_unlock(&reg_lock);
	return r;
}

int vspace_destroy(struct vspace *vs)
{
	if (!vs)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	if (vs != the_vs) {
		pthread_mutex_unlock(&reg_lock);
		return -EINVAL;
	}
	if (tl_node >= 0) {
		dune_set_root(dune_pgroot());
		tl_node = -1;
	}
	while (vs->nregions)
		vspace_region_destroy(vs->regions[vs->nregions - 1]);
	pthread_mutex_lock(&vs->lock);
	dune_register_pgflt_handler(NULL);
	the_vs = NULL;
	replicas_free(vs);
	vs_chunks_release(vs);
	dune_cap_unreserve((void *)vs->base, VSPACE_SIZE);
	close(vs->swapfd);
	if (vs->pagemap >= 0)
		close(vs->pagemap);
	free(vs->regions);
	pthread_mutex_unlock(&vs->lock);
	pthread_mutex_destroy(&vs->lock);
	free(vs);
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

void *vspace_base(const struct vspace *vs)
{
	return vs ? (void *)vs->base : NULL;
}

/* ---- regions ---------------------------------------------------------- */
static int attr_check(struct vspace *vs, uintptr_t va, size_t len,
		      const struct vs_region_attr *a)
{
	uint64_t pg = a->flags & VS_PAGE_2M ? VS_LPG : VS_PG;
	if ((a->flags & ~VS_FLAGS) || !(a->flags & (VS_R | VS_W | VS_X)) ||
	    !len || (len & (pg - 1)) || (va & (pg - 1)) ||
	    (a->budget & (pg - 1)) || a->backing > VS_FILE)
		return -EINVAL;
	if (a->node < VS_NODE_INTERLEAVE || a->node >= vs->nnodes)
		return -EINVAL;
	if (va < vs->base || len > VSPACE_SIZE ||
	    va - vs->base > VSPACE_SIZE - len)
		return -ERANGE;
	if (a->backing == VS_FILE &&
	    (a->file_offset < 0 || (a->file_offset & (off_t)(pg - 1)) ||
	     fcntl(a->fd, F_GETFL) < 0))
		return -EINVAL;
	if (a->backing == VS_FRAME) {
		struct dune_cap_info ci;
		if (a->budget)
			return -EINVAL;
		int e = dune_cap_identify(a->frame, &ci);
		if (e)
			return e == -EBADF ? -EINVAL : e;
		unsigned need = (a->flags & VS_W ? DUNE_CAP_W : 0) |
				(a->flags & VS_X ? DUNE_CAP_X : 0) | DUNE_CAP_R;
		if (ci.type != DUNE_CAP_FRAME ||
		    ((ci.base + a->frame_offset) & (pg - 1)))
			return -EINVAL;
		if ((ci.rights & need) != need)
			return -EPERM;
		if (a->frame_offset > ci.size || len > ci.size - a->frame_offset)
			return -ERANGE;
	}
	if (a->colours) {
		/* 4 KiB frames the pager allocates; colours that exist. */
		if ((a->flags & VS_PAGE_2M) || a->backing == VS_FRAME)
			return -EINVAL;
		int n = vs_colour_count();
		if (n < 0)
			return n;
		if (n < 64 && (a->colours >> n))
			return -EINVAL;
	}
	return 0;
}

/* Where a region of len (aligned to pg) fits first. 0 if nowhere. */
static uintptr_t place(struct vspace *vs, size_t len, uint64_t pg)
{
	uintptr_t lo = vs->base;
	for (int i = 0; i <= vs->nregions; i++) {
		uintptr_t a = (lo + pg - 1) & ~(pg - 1);
		uintptr_t hi = i < vs->nregions ? vs->regions[i]->start
						: vs->base + VSPACE_SIZE;
		if (a <= hi && hi - a >= len)
			return a;
		if (i < vs->nregions)
			lo = vs->regions[i]->start + vs->regions[i]->len;
	}
	return 0;
}

/* Reference the GiBs and 2 MiB pieces of [s, e), or undo and fail. */
static int tables_get(struct vspace *vs, uintptr_t s, uintptr_t e)
{
	int g0 = (int)((s - vs->base) >> 30), g1 = (int)((e - 1 - vs->base) >> 30);
	for (int g = g0; g <= g1; g++) {
		int r = gib_get(vs, g);
		if (r) {
			while (g-- > g0)
				gib_put(vs, g);
			return r;
		}
	}
	for (uintptr_t c = s & ~(VS_LPG - 1); c < e; c += VS_LPG)
		gib_of(vs, c)->use[(c >> 21) & 511]++;
	return 0;
}

static void tables_put(struct vspace *vs, uintptr_t s, uintptr_t e)
{
	for (uintptr_t c = s & ~(VS_LPG - 1); c < e; c += VS_LPG)
		chunk_put(vs, c);
	int g0 = (int)((s - vs->base) >> 30), g1 = (int)((e - 1 - vs->base) >> 30);
	for (int g = g0; g <= g1; g++)
		gib_put(vs, g);
}

int vspace_region_create(struct vspace *vs, void *va, size_t len,
			 const struct vs_region_attr *attr,
			 struct vs_region **out)
{
	if (!vs || !attr || !out)
		return -EINVAL;
	pthread_mutex_lock(&vs->lock);
	uint64_t pg = attr->flags & VS_PAGE_2M ? VS_LPG : VS_PG;
	uintptr_t s = (uintptr_t)va;
	int e = 0;
	if (!va && !(attr->flags & ~VS_FLAGS) && len && !(len & (pg - 1)))
		s = place(vs, len, pg);
	if (!va && !s)
		e = -ENOSPC;
	if (!e)
		e = attr_check(vs, s, len, attr);
	if (!e) {
		int lo = 0;
		while (lo < vs->nregions && vs->regions[lo]->start < s)
			lo++;
		if ((lo > 0 && vs->regions[lo - 1]->start +
				       vs->regions[lo - 1]->len > s) ||
		    (lo < vs->nregions && vs->regions[lo]->start < s + len))
			e = -EEXIST;
	}
	if (!e && attr->colours && vs->pagemap < 0) {
		/* Kept until vspace_destroy: one per vspace. */
		e = vs_colour_open();
		if (e >= 0) {
			vs->pagemap = e;
			vs->ncolours = vs_colour_count();
			e = 0;
		}
	}
	if (e)
		goto out;
	if (vs->nregions == vs->regions_cap) {
		int ncap = vs->regions_cap ? 2 * vs->regions_cap : 8;
		void *p = realloc(vs->regions, (size_t)ncap * sizeof(void *));
		if (!p) {
			e = -ENOMEM;
			goto out;
		}
		vs->regions = p;
		vs->regions_cap = ncap;
	}
	struct vs_region *r = calloc(1, sizeof(*r));
	if (!r) {
		e = -ENOMEM;
		goto out;
	}
	*r = (struct vs_region){.vs = vs, .start = s, .len = len,
				.flags = attr->flags, .node = attr->node,
				.shift = pg == VS_LPG ? 21 : 12,
				.backing = attr->backing, .frame = attr->frame,
				.frame_offset = attr->frame_offset, .fd = -1,
				.file_offset = attr->file_offset,
				.cb = attr->cb, .cb_arg = attr->cb_arg,
				.colours = attr->colours};
	r->npages = (uint32_t)(len >> r->shift);
	r->cap = attr->budget ? (uint32_t)(attr->budget >> r->shift)
			      : r->npages;
	if (r->cap > r->npages)
		r->cap = r->npages;
	if (attr->backing == VS_FILE &&
	    (r->fd = fcntl(attr->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		e = -errno;
		goto fail_r;
	}
	e = vs_pager_init(r);
	if (e)
		goto fail_fd;
	e = tables_get(vs, s, s + len);
	if (e)
		goto fail_pager;
	int lo = 0;
	while (lo < vs->nregions && vs->regions[lo]->start < s)
		lo++;
	memmove(&vs->regions[lo + 1], &vs->regions[lo],
		(size_t)(vs->nregions - lo) * sizeof(void *));
	vs->regions[lo] = r;
	vs->nregions++;
	*out = r;
	goto out;
fail_pager:
	vs_pager_fini(r);
fail_fd:
	if (r->fd >= 0)
		close(r->fd);
fail_r:
	free(r);
out:
	pthread_mutex_unlock(&vs->lock);
	return e;
}

int vspace_region_destroy(struct vs_region *r)
{
	if (!r)
		return -EINVAL;
	struct vspace *vs = r->vs;
	pthread_mutex_lock(&vs->lock);
	int i;
	for (i = 0; i < vs->nregions && vs->regions[i] != r; i++)
		;
	if (i == vs->nregions) {
		pthread_mutex_unlock(&vs->lock);
		return -EINVAL;
	}
	memmove(&vs->regions[i], &vs->regions[i + 1],
		(size_t)(vs->nregions - i - 1) * sizeof(void *));
	vs->nregions--;
	vs_pager_fini(r); /* frames unmapped and freed, swap space dropped */
	tables_put(vs, r->start, r->start + r->len);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	pthread_mutex_unlock(&vs->lock);
	return 0;
}

void *vs_region_start(const struct vs_region *r)
{
	return (void *)r->start;
}

size_t vs_region_len(const struct vs_region *r)
{
	return r->len;
}

int vs_region_stats(const struct vs_region *r, struct vs_stats *out)
{
	if (!r || !out)
		return -EINVAL;
	pthread_mutex_lock(&r->vs->lock);
	*out = r->st;
	pthread_mutex_unlock(&r->vs->lock);
	return 0;
}

int vs_region_evict_all(struct vs_region *r)
{
	if (!r)
		return -EINVAL;
	pthread_mutex_lock(&r->vs->lock);
	int e = vs_pager_evict_all(r);
	pthread_mutex_unlock(&r->vs->lock);
	return e;
}

int vspace_stats(struct vspace *vs, struct vs_stats *out)
{
	if (!vs || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&vs->lock);
	for (int i = 0; i < vs->nregions; i++) {
		const struct vs_stats *s = &vs->regions[i]->st;
		out->faults += s->faults;
		out->evictions += s->evictions;
		out->writebacks += s->writebacks;
		out->swapins += s->swapins;
		out->clean_drops += s->clean_drops;
		out->zero_fills += s->zero_fills;
		out->file_reads += s->file_reads;
		out->spurious += s->spurious;
		out->resident += s->resident;
	}
	out->passed = vs->passed;
	pthread_mutex_unlock(&vs->lock);
	return 0;
}

/* ---- replication ------------------------------------------------------ */
int vspace_nreplicas(const struct vspace *vs)
{
	return vs ? vs->nrep : -EINVAL;
}

ptent_t *vspace_root(const struct vspace *vs, int node)
{
	if (!vs || node < 0 || node >= vs->nrep)
		return NULL;
	return vs->rep[node].root ? vs->rep[node].root : dune_pgroot();
}

int vspace_bind(struct vspace *vs, int node)
{
	if (!vs || node < -1 || node >= vs->nrep)
		return -EINVAL;
	int r = dune_set_root(node < 0 ? dune_pgroot() : vspace_root(vs, node));
	if (!r)
		tl_node = node;
	return r;
}

int vspace_vnodes(struct vspace *vs, int node, int *slots, int max)
{
	if (!vs || node < 0 || node >= vs->nrep || max < 0 ||
	    (max && !slots))
		return -EINVAL;
	int n = 0;
#define PUT(s)                                                                 \
	do {                                                                   \
		if (n < max)                                                   \
			slots[n] = (s);                                        \
		n++;                                                           \
	} while (0)
	pthread_mutex_lock(&vs->lock);
	PUT(vs->rep[node].pdpt);
	for (int g = 0; g < 512; g++) {
		const struct vs_gib *t = vs->gib[g];
		if (!t)
			continue;
		PUT(t->pd[node]);
		for (int c = 0; c < 512; c++)
			if (t->pt[node][c] >= 0)
				PUT(t->pt[node][c]);
	}
	pthread_mutex_unlock(&vs->lock);
#undef PUT
	return n;
}
