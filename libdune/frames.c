/* libdune/frames.c: the vspace's physical memory: RAM granted by the vmm
 * in 8 MiB chunks per (node, page size), handed out one object at a time
 * by retyping a unit of a chunk into a FRAME or vnode cap; for coloured
 * regions, 4 KiB frames of chosen cache colours (colour.c). Runs in the #PF
 * handler with the vspace lock held: no malloc, at most one exit (a new
 * grant, or giving an empty one back), plus one per pagemap read of a
 * coloured request (up to 64 candidates each). */
#include <errno.h>
#include <string.h>

#include "vspace_int.h"

static int unit_find(struct vs_chunk *c)
{
	for (uint32_t w = 0; w * 64 < c->nunits; w++) {
		uint64_t m = c->map[w];
		if (m == ~0ull)
			continue;
		uint32_t b = (uint32_t)__builtin_ctzll(~m);
		if (w * 64 + b < c->nunits)
			return (int)(w * 64 + b);
	}
	return -1;
}

static struct vs_chunk *chunk_new(struct vspace *vs, int node, int huge)
{
	struct vs_chunk *c = NULL;
	for (int i = 0; i < VS_MAX_CHUNKS && !c; i++)
		if (vs->chunks[i].slot < 0)
			c = &vs->chunks[i];
	if (!c)
		return NULL;
	int slot = dune_cap_ram_alloc(VS_CHUNK, huge ? VS_LPG : 0, node,
				      huge ? DUNE_HOST_PAGES_THP
					   : DUNE_HOST_PAGES_4K);
	if (slot < 0)
		return NULL;
	struct dune_cap_info ci;
	if (dune_cap_identify(slot, &ci)) {
		dune_cap_delete(slot);
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->node = node;
	c->huge = huge;
	c->base = ci.base;
	c->nunits = (uint32_t)(VS_CHUNK / (huge ? VS_LPG : VS_PG));
	c->nfree = c->nunits;
	return c;
}

/* Retype unit u of c into a new cap of `type` in a free slot. */
static int unit_take(struct vs_chunk *c, uint32_t u, enum dune_cap_type type,
		     uint64_t *pa)
{
	uint64_t unit = c->huge ? VS_LPG : VS_PG;
	int dest = dune_cap_free_slots(1);
	int r = dest < 0 ? dest
			 : dune_cap_retype(c->slot, type, (uint64_t)u * unit,
					   unit, 1, dest);
	if (r)
		return r;
	c->map[u / 64] |= 1ull << (u % 64);
	c->nfree--;
	*pa = c->base + (uint64_t)u * unit;
	return dest;
}

int vs_obj_alloc(struct vspace *vs, int node, int huge,
		 enum dune_cap_type type, uint64_t *pa)
{
	struct vs_chunk *c = NULL;
	for (int i = 0; i < VS_MAX_CHUNKS && !c; i++)
		if (vs->chunks[i].slot >= 0 && vs->chunks[i].node == node &&
		    vs->chunks[i].huge == huge && vs->chunks[i].nfree)
			c = &vs->chunks[i];
	int fresh = !c;
	if (fresh && !(c = chunk_new(vs, node, huge)))
		return -ENOMEM;
	int r = unit_take(c, (uint32_t)unit_find(c), type, pa);
	if (r < 0 && fresh) {
		dune_cap_delete(c->slot);
		c->slot = -1;
	}
	return r;
}

static int unit_free(const struct vs_chunk *c, uint32_t u)
{
	return !(c->map[u / 64] & (1ull << (u % 64)));
}

/* Read the colours of the free units of c in [u, u + n) whose colour is
 * unknown (known = 0), or of unit u alone (known = 1, n = 1), into c->col.
 * The number of units read, or -errno. */
static int units_read(struct vspace *vs, struct vs_chunk *c, uint32_t u,
		      unsigned n, int known)
{
	int8_t col[VS_COLOUR_BATCH];
	int count = 0;
	for (uint32_t v = u; v < u + n; v++)
		if (unit_free(c, v) && (known || !c->col[v])) {
			volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(
			    c->base + (uint64_t)v * VS_PG);
			/* A write, so the host allocates a page of its own
			 * (a read may map the shared zero page); the unit is
			 * free, its content is nobody's. (madvise
			 * MADV_POPULATE_WRITE would do a batch in one exit,
			 * but the vmm does not pass madvise on grants.) */
			*p = *p;
			count++;
		}
	int e = vs_colour_read(vs->pagemap, (uintptr_t)(c->base + u * VS_PG),
			       n, vs->ncolours, col);
	if (e)
		return e;
	for (uint32_t v = u; v < u + n; v++)
		if (unit_free(c, v) && (known || !c->col[v]))
			c->col[v] =
			    col[v - u] < 0 ? 0 : (uint8_t)(col[v - u] + 1);
	return count;
}

static int col_in(uint8_t k, uint64_t mask)
{
	return k && ((mask >> (k - 1)) & 1);
}

/* Try the free units of c: known ones of a wanted colour (known = 1), or
 * ones never read (known = 0). The slot, -ENOMEM when *tries runs out or
 * none fits, or another -errno. */
static int chunk_try(struct vspace *vs, struct vs_chunk *c, int known,
		     uint64_t mask, int *tries, uint64_t *pa)
{
	for (uint32_t u = 0; u < c->nunits && c->nfree; u++) {
		if (!unit_free(c, u) ||
		    (known ? !col_in(c->col[u], mask) : c->col[u] != 0))
			continue;
		if (*tries <= 0)
			return -ENOMEM;
		unsigned n = known ? 1 : VS_COLOUR_BATCH;
		if (n > c->nunits - u)
			n = c->nunits - u;
		int got = units_read(vs, c, u, n, known);
		if (got < 0)
			return got;
		*tries -= got;
		for (uint32_t v = u; v < u + n; v++)
			if (unit_free(c, v) && col_in(c->col[v], mask))
				return unit_take(c, v, DUNE_CAP_FRAME, pa);
		u += n - 1;
	}
	return -ENOMEM;
}

int vs_frame_alloc_coloured(struct vspace *vs, int node, uint64_t colours,
			    uint64_t *pa)
{
	int tries = VS_COLOUR_TRIES, r = -ENOMEM;
	for (int known = 1; known >= 0; known--)
		for (int i = 0; i < VS_MAX_CHUNKS; i++) {
			struct vs_chunk *c = &vs->chunks[i];
			if (c->slot < 0 || c->node != node || c->huge ||
			    !c->nfree)
				continue;
			r = chunk_try(vs, c, known, colours, &tries, pa);
			if (r != -ENOMEM)
				return r;
			if (tries <= 0)
				goto fresh;
		}
fresh:;
	struct vs_chunk *c = chunk_new(vs, node, 0);
	if (!c)
		return -ENOMEM;
	tries = VS_COLOUR_TRIES;
	r = chunk_try(vs, c, 0, colours, &tries, pa);
	if (r < 0 && c->nfree == c->nunits) {
		dune_cap_delete(c->slot); /* nothing of it in use */
		c->slot = -1;
	}
	return r;
}

void vs_obj_free(struct vspace *vs, int slot)
{
	struct dune_cap_info ci;
	if (dune_cap_identify(slot, &ci))
		return;
	dune_cap_delete(slot);
	for (int i = 0; i < VS_MAX_CHUNKS; i++) {
		struct vs_chunk *c = &vs->chunks[i];
		uint64_t unit = c->huge ? VS_LPG : VS_PG;
		if (c->slot < 0 || ci.base < c->base ||
		    ci.base - c->base >= (uint64_t)c->nunits * unit)
			continue;
		uint32_t u = (uint32_t)((ci.base - c->base) / unit);
		c->map[u / 64] &= ~(1ull << (u % 64));
		if (++c->nfree == c->nunits) {
			dune_cap_delete(c->slot); /* the grant goes back */
			c->slot = -1;
		}
		return;
	}
}

void vs_chunks_release(struct vspace *vs)
{
	for (int i = 0; i < VS_MAX_CHUNKS; i++)
		if (vs->chunks[i].slot >= 0) {
			dune_cap_revoke(vs->chunks[i].slot);
			dune_cap_delete(vs->chunks[i].slot);
			vs->chunks[i].slot = -1;
		}
}
