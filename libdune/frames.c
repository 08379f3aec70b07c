/* libdune/frames.c: the vspace's physical memory: RAM granted by the vmm
 * in 8 MiB chunks per (node, page size), handed out one object at a time
 * by retyping a unit of a chunk into a FRAME or vnode cap. Runs in the #PF
 * handler with the vspace lock held: no malloc, at most one exit (a new
 * grant, or giving an empty one back). */
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
	int dest = dune_cap_free_slots(1);
	int u = unit_find(c);
	uint64_t unit = huge ? VS_LPG : VS_PG;
	int r = dest < 0 ? dest
			 : dune_cap_retype(c->slot, type, (uint64_t)u * unit,
					   unit, 1, dest);
	if (r) {
		if (fresh) {
			dune_cap_delete(c->slot);
			c->slot = -1;
		}
		return r;
	}
	c->map[u / 64] |= 1ull << (u % 64);
	c->nfree--;
	*pa = c->base + (uint64_t)u * unit;
	return dest;
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
