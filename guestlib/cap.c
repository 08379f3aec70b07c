/* guestlib/cap.c: the capability space: retype/copy/mint/delete/revoke,
 * install with mapping records, and the invariant checker. */
#include "cap.h"
#include "pt_x86_64.h"

#include <errno.h>
#include <string.h>

/* Flags a caller may ask for in a leaf entry (PTE_P is implied). */
#define LEAF_FLAGS (PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_G | PTE_NX)
/* Intermediate entries grant everything; leaves decide (SDM 4.6). */
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

static int is_vnode(unsigned type)
{
	return type >= GL_CAP_VNODE_PT && type <= GL_CAP_VNODE_PML4;
}

static int vnode_level(unsigned type)
{
	return (int)type - GL_CAP_VNODE_PT + 1;
}

static struct gl_cap *cap_at(struct gl_cap_space *cs, int slot)
{
	if (slot < 0 || (uint32_t)slot >= cs->nslots)
		return NULL;
	return &cs->slots[slot];
}

/* A live cap at slot, or NULL (-EBADF for the caller). */
static struct gl_cap *live(struct gl_cap_space *cs, int slot)
{
	struct gl_cap *c = cap_at(cs, slot);
	return c && c->type != GL_CAP_NULL ? c : NULL;
}

static int overlaps(uint64_t b1, uint64_t s1, uint64_t b2, uint64_t s2)
{
	return b1 < b2 + s2 && b2 < b1 + s1;
}

static uint64_t *table_va(struct gl_cap_space *cs, uint64_t pa)
{
	return cs->pa_to_va(cs->ctx, pa);
}

static uint32_t new_obj(struct gl_cap_space *cs)
{
	if (++cs->next_obj == 0) /* 0 means "no parent" */
		cs->next_obj = 1;
	return cs->next_obj;
}

int gl_cap_create_ram(struct gl_cap_space *cs, uint64_t base, uint64_t size,
		      unsigned rights)
{
	int free_slot = -1;
	if (!size || (base | size) & (PAGE_SIZE - 1) || base + size < base ||
	    (rights & ~GL_CAP_ALL))
		return -EINVAL;
	for (uint32_t i = 0; i < cs->nslots; i++) {
		struct gl_cap *c = &cs->slots[i];
		if (c->type == GL_CAP_NULL) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if (overlaps(base, size, c->base, c->size)) {
			return -EBUSY;
		}
	}
	if (free_slot < 0)
		return -ENOSPC;
	struct gl_cap *c = &cs->slots[free_slot];
	memset(c, 0, sizeof(*c));
	c->type = GL_CAP_RAM;
	c->rights = (uint8_t)rights;
	c->base = base;
	c->size = size;
	c->obj = new_obj(cs);
	return free_slot;
}

static int retype_allowed(unsigned from, unsigned to)
{
	if (to == GL_CAP_NULL || to >= GL_CAP_NTYPES)
		return 0;
	if (from == GL_CAP_RAM)
		return 1;
	return from == GL_CAP_FRAME && to == GL_CAP_FRAME;
}

int gl_cap_retype(struct gl_cap_space *cs, int src, enum gl_cap_type type,
		  uint64_t offset, uint64_t objsize, uint32_t count, int dest)
{
	struct gl_cap *s = live(cs, src);
	if (!s)
		return -EBADF;
	if (!retype_allowed(s->type, (unsigned)type) || !count || !objsize ||
	    (offset | objsize) & (PAGE_SIZE - 1) ||
	    (is_vnode(type) && objsize != PAGE_SIZE))
		return -EINVAL;
	/* offset + count * objsize <= size, without overflow. */
	if (offset > s->size || objsize > (s->size - offset) / count)
		return -ERANGE;
	if (dest < 0 || (uint64_t)dest + count > cs->nslots)
		return -EBADF;
	for (uint32_t i = 0; i < count; i++)
		if (cs->slots[dest + i].type != GL_CAP_NULL)
			return -EEXIST;
	uint64_t base = s->base + offset, len = objsize * count;
	for (uint32_t i = 0; i < cs->nslots; i++) {
		struct gl_cap *c = &cs->slots[i];
		if (c->type != GL_CAP_NULL && c->parent_obj == s->obj &&
		    overlaps(base, len, c->base, c->size))
			return -EBUSY;
	}
	/* Act. */
	if (cs->zero)
		cs->zero(cs->ctx, base, len);
	else
		for (uint64_t pa = base; pa < base + len; pa += PAGE_SIZE)
			memset(table_va(cs, pa), 0, PAGE_SIZE);
	for (uint32_t i = 0; i < count; i++) {
		struct gl_cap *c = &cs->slots[dest + i];
		memset(c, 0, sizeof(*c));
		c->type = (uint8_t)type;
		c->rights = s->rights;
		c->base = base + i * objsize;
		c->size = objsize;
		c->obj = new_obj(cs);
		c->parent_obj = s->obj;
	}
	return 0;
}

int gl_cap_mint(struct gl_cap_space *cs, int src, int dest, unsigned rights)
{
	struct gl_cap *s = live(cs, src), *d = cap_at(cs, dest);
	if (!s || !d)
		return -EBADF;
	if (rights & ~GL_CAP_ALL)
		return -EINVAL;
	if (rights & ~(unsigned)s->rights)
		return -EPERM;
	if (d->type != GL_CAP_NULL)
		return -EEXIST;
	*d = *s;
	d->rights = (uint8_t)rights;
	memset(d->maps, 0, sizeof(d->maps));
	return 0;
}

int gl_cap_copy(struct gl_cap_space *cs, int src, int dest)
{
	struct gl_cap *s = live(cs, src);
	if (!s)
		return -EBADF;
	return gl_cap_mint(cs, src, dest, s->rights);
}

/* Clear the entries of one mapping record; returns what the hardware had
 * recorded in them (A and D bits), taken atomically with the clearing so
 * that no write is missed. */
static uint64_t unmap_record(struct gl_cap_space *cs, struct gl_cap_map *m)
{
	uint64_t *t = table_va(cs, m->table_pa), ad = 0;
	for (unsigned i = 0; i < m->count; i++)
		ad |= __atomic_exchange_n(&t[m->index + i], 0, __ATOMIC_SEQ_CST);
	memset(m, 0, sizeof(*m));
	return ad & (PTE_A | PTE_D);
}

static int has_other_copy(struct gl_cap_space *cs, int slot)
{
	for (uint32_t i = 0; i < cs->nslots; i++)
		if ((int)i != slot && cs->slots[i].type != GL_CAP_NULL &&
		    cs->slots[i].obj == cs->slots[slot].obj)
			return 1;
	return 0;
}

/* Remove the cap at slot (no checks): clear its mappings and, for the last
 * copy of a vnode, every install into that vnode. */
static void kill(struct gl_cap_space *cs, int slot)
{
	struct gl_cap *c = &cs->slots[slot];
	for (int k = 0; k < GL_CAP_MAPS; k++)
		if (c->maps[k].count)
			unmap_record(cs, &c->maps[k]);
	if (is_vnode(c->type) && !has_other_copy(cs, slot)) {
		for (uint32_t i = 0; i < cs->nslots; i++) {
			struct gl_cap *o = &cs->slots[i];
			if (o->type == GL_CAP_NULL)
				continue;
			for (int k = 0; k < GL_CAP_MAPS; k++)
				if (o->maps[k].count &&
				    o->maps[k].table_pa == c->base)
					unmap_record(cs, &o->maps[k]);
		}
	}
	memset(c, 0, sizeof(*c));
}

int gl_cap_delete(struct gl_cap_space *cs, int slot)
{
	struct gl_cap *c = live(cs, slot);
	if (!c)
		return -EBADF;
	if (!has_other_copy(cs, slot)) {
		for (uint32_t i = 0; i < cs->nslots; i++)
			if (cs->slots[i].type != GL_CAP_NULL &&
			    cs->slots[i].parent_obj == c->obj)
				return -EBUSY;
	}
	kill(cs, slot);
	return 0;
}

int gl_cap_revoke(struct gl_cap_space *cs, int slot)
{
	struct gl_cap *c = live(cs, slot);
	if (!c)
		return -EBADF;
	/* Mark the descendants: a cap whose parent object is `obj` or a
	 * marked object gets marked, until nothing changes. The mark is a bit
	 * above the rights, so no allocation; a second pass kills the marked
	 * caps and the other copies. */
	uint32_t obj = c->obj;
	int changed = 1;
	enum { MARK = 0x80 };
	while (changed) {
		/* Siblings share a parent: remember the last answer (a pass
		 * that marks anything is followed by another, fresh one). */
		uint32_t memo_obj = 0;
		int memo_marked = 0;
		changed = 0;
		for (uint32_t i = 0; i < cs->nslots; i++) {
			struct gl_cap *o = &cs->slots[i];
			if (o->type == GL_CAP_NULL || (o->rights & MARK))
				continue;
			int victim = (o->parent_obj == obj);
			if (!victim && o->parent_obj &&
			    o->parent_obj == memo_obj) {
				victim = memo_marked;
			} else if (!victim && o->parent_obj) {
				/* Is its parent object marked? */
				for (uint32_t j = 0; j < cs->nslots; j++) {
					struct gl_cap *p = &cs->slots[j];
					if (p->type != GL_CAP_NULL &&
					    (p->rights & MARK) &&
					    p->obj == o->parent_obj) {
						victim = 1;
						break;
					}
				}
				memo_obj = o->parent_obj;
				memo_marked = victim;
			}
			if (victim) {
				o->rights |= MARK;
				changed = 1;
			}
		}
	}
	for (uint32_t i = 0; i < cs->nslots; i++) {
		struct gl_cap *o = &cs->slots[i];
		if (o->type == GL_CAP_NULL)
			continue;
		if ((o->rights & MARK) || ((int)i != slot && o->obj == obj))
			kill(cs, (int)i);
	}
	return 0;
}

int gl_cap_identify(const struct gl_cap_space *cs, int slot,
		    struct gl_cap_info *info)
{
	if (slot < 0 || (uint32_t)slot >= cs->nslots ||
	    cs->slots[slot].type == GL_CAP_NULL)
		return -EBADF;
	const struct gl_cap *c = &cs->slots[slot];
	info->type = (enum gl_cap_type)c->type;
	info->base = c->base;
	info->size = c->size;
	info->rights = c->rights;
	return 0;
}

/* What entries of a `level` table may point at a `type` source: 0 = not
 * allowed, else the page size of a leaf, or 1 for a table entry. */
static uint64_t install_kind(int level, unsigned type)
{
	if (is_vnode(type) && vnode_level(type) == level - 1)
		return 1; /* next-level table */
	if (level == 1 && is_vnode(type))
		return PAGE_SIZE; /* a table read as a page, read-only */
	if (type == GL_CAP_FRAME && level <= 3)
		return PT_LEVEL_SIZE(level);
	return 0;
}

/* The entry for page i of an install (kind from install_kind). */
static uint64_t make_entry(const struct gl_cap *s, int level, uint64_t kind,
			   uint64_t flags, uint64_t offset, unsigned i)
{
	if (kind == 1)
		return s->base | TABLE_FLAGS;
	uint64_t e =
	    (s->base + offset + i * kind) | PTE_P | (flags & LEAF_FLAGS);
	if (!(s->rights & GL_CAP_W) || is_vnode(s->type))
		e &= ~PTE_W;
	if (!(s->rights & GL_CAP_X) || is_vnode(s->type))
		e |= PTE_NX;
	if (level > 1)
		e |= PTE_PS;
	return e;
}

int gl_cap_install(struct gl_cap_space *cs, int table, int index, int src,
		   uint64_t flags, uint64_t offset, uint32_t count)
{
	struct gl_cap *t = live(cs, table), *s = live(cs, src);
	if (!t || !s)
		return -EBADF;
	if (!is_vnode(t->type) || !count || (flags & ~(LEAF_FLAGS | PTE_P)))
		return -EINVAL;
	if (!(t->rights & GL_CAP_W))
		return -EPERM;
	if (index < 0 || index >= PT_ENTRIES || count > PT_ENTRIES ||
	    (uint32_t)index + count > PT_ENTRIES)
		return -ERANGE;
	int level = vnode_level(t->type);
	uint64_t kind = install_kind(level, s->type);
	if (!kind)
		return -EINVAL;
	if (is_vnode(s->type)) {
		if (count != 1 || offset)
			return -EINVAL;
	} else {
		if (kind == HPAGE_SIZE && !cs->gbpages)
			return -ENOTSUP;
		if ((offset & (kind - 1)) || ((s->base + offset) & (kind - 1)))
			return -EINVAL;
		if (offset > s->size || kind > (s->size - offset) / count)
			return -ERANGE;
		if (!(s->rights & GL_CAP_R))
			return -EPERM;
	}
	uint64_t *pte = table_va(cs, t->base);
	for (uint32_t i = 0; i < count; i++)
		if (pte[index + i] & PTE_P)
			return -EEXIST;
	struct gl_cap_map *m = NULL;
	for (int k = 0; k < GL_CAP_MAPS && !m; k++)
		if (!s->maps[k].count)
			m = &s->maps[k];
	if (!m)
		return -ENOSPC;
	/* Act. */
	for (uint32_t i = 0; i < count; i++)
		pte[index + i] = make_entry(s, level, kind, flags, offset, i);
	m->table_pa = t->base;
	m->offset = offset;
	m->index = (uint16_t)index;
	m->count = (uint16_t)count;
	return 0;
}

/* The record of src's install at entry `index` of `table`, or NULL with
 * the error in *err. */
static struct gl_cap_map *find_record(struct gl_cap_space *cs, int src,
				      int table, int index, int *err)
{
	struct gl_cap *s = live(cs, src), *t = live(cs, table);
	*err = !s || !t ? -EBADF : !is_vnode(t->type) ? -EINVAL : -ENOENT;
	if (*err != -ENOENT)
		return NULL;
	for (int k = 0; k < GL_CAP_MAPS; k++) {
		struct gl_cap_map *m = &s->maps[k];
		if (m->count && m->table_pa == t->base && m->index == index) {
			*err = 0;
			return m;
		}
	}
	return NULL;
}

int gl_cap_unmap_check(struct gl_cap_space *cs, int src, int table, int index)
{
	int err;
	find_record(cs, src, table, index, &err);
	return err;
}

int gl_cap_unmap(struct gl_cap_space *cs, int src, int table, int index,
		 uint64_t *ad)
{
	int err;
	struct gl_cap_map *m = find_record(cs, src, table, index, &err);
	if (m) {
		uint64_t bits = unmap_record(cs, m);
		if (ad)
			*ad = bits;
	}
	return err;
}

/* ---- invariant checker ---------------------------------------------- */

static int fail(struct gl_cap_space *cs, const char *why)
{
	cs->why = why;
	return -EUCLEAN;
}

/* The first live vnode cap with this base (the table's canonical slot). */
static int vnode_at(struct gl_cap_space *cs, uint64_t pa)
{
	for (uint32_t i = 0; i < cs->nslots; i++)
		if (is_vnode(cs->slots[i].type) && cs->slots[i].base == pa)
			return (int)i;
	return -1;
}

/* Check one record of cap s: its entries are present and exactly what
 * install would write now. Counts them into covered[] of the table. */
static int check_record(struct gl_cap_space *cs, const struct gl_cap *s,
			const struct gl_cap_map *m, uint16_t *covered)
{
	int ts = vnode_at(cs, m->table_pa);
	if (ts < 0)
		return fail(cs, "mapping record into a table with no live cap");
	int level = vnode_level(cs->slots[ts].type);
	uint64_t kind = install_kind(level, s->type);
	if (!kind)
		return fail(cs, "mapping record of a type the level refuses");
	if (m->index + m->count > PT_ENTRIES)
		return fail(cs, "mapping record past the table end");
	if (kind != 1 && kind * m->count + m->offset > s->size)
		return fail(cs, "mapping record past the source end");
	const uint64_t *pte = table_va(cs, m->table_pa);
	for (unsigned i = 0; i < m->count; i++) {
		uint64_t e = pte[m->index + i];
		if (!(e & PTE_P))
			return fail(cs, "recorded entry not present");
		uint64_t want = make_entry(s, level, kind, 0, m->offset, i);
		if ((e & PTE_ADDR_MASK) != (want & PTE_ADDR_MASK))
			return fail(cs,
				    "entry address differs from its record");
		/* The CPU sets A (and D) bits: not the installer's. */
		if (kind == 1 && (e & ~(PTE_A | PTE_D)) != want)
			return fail(cs, "table entry with unexpected flags");
		if (kind != 1 && (e & PTE_W) &&
		    (!(s->rights & GL_CAP_W) || is_vnode(s->type)))
			return fail(cs, "writable entry without the W right");
		if (kind != 1 && !(e & PTE_NX) &&
		    (!(s->rights & GL_CAP_X) || is_vnode(s->type)))
			return fail(cs, "executable entry without the X right");
		if (kind != 1 && !!(e & PTE_PS) != (level > 1))
			return fail(cs, "leaf entry with wrong PS bit");
		covered[m->index + i]++;
	}
	return 0;
}

int gl_cap_check(struct gl_cap_space *cs)
{
	uint16_t covered[PT_ENTRIES];
	cs->why = NULL;
	/* Caps: no two of different non-RAM types (or two vnode objects)
	 * overlap. */
	for (uint32_t i = 0; i < cs->nslots; i++) {
		const struct gl_cap *a = &cs->slots[i];
		if (a->type == GL_CAP_NULL)
			continue;
		if (a->type >= GL_CAP_NTYPES || !a->size ||
		    (a->base | a->size) & (PAGE_SIZE - 1))
			return fail(cs, "malformed cap");
		if (a->type == GL_CAP_RAM)
			continue;
		for (uint32_t j = i + 1; j < cs->nslots; j++) {
			const struct gl_cap *b = &cs->slots[j];
			if (b->type == GL_CAP_NULL || b->type == GL_CAP_RAM ||
			    !overlaps(a->base, a->size, b->base, b->size))
				continue;
			if (a->type != b->type)
				return fail(cs,
					    "caps of different types overlap");
			if (is_vnode(a->type) && a->obj != b->obj)
				return fail(cs, "two vnode objects overlap");
		}
	}
	/* Tables: every present entry covered by exactly one record. */
	for (uint32_t i = 0; i < cs->nslots; i++) {
		const struct gl_cap *v = &cs->slots[i];
		if (!is_vnode(v->type) || vnode_at(cs, v->base) != (int)i)
			continue;
		memset(covered, 0, sizeof(covered));
		for (uint32_t j = 0; j < cs->nslots; j++) {
			const struct gl_cap *s = &cs->slots[j];
			if (s->type == GL_CAP_NULL)
				continue;
			for (int k = 0; k < GL_CAP_MAPS; k++) {
				const struct gl_cap_map *m = &s->maps[k];
				if (!m->count || m->table_pa != v->base)
					continue;
				int r = check_record(cs, s, m, covered);
				if (r)
					return r;
			}
		}
		const uint64_t *pte = table_va(cs, v->base);
		for (int e = 0; e < PT_ENTRIES; e++) {
			if ((pte[e] & PTE_P) && covered[e] != 1)
				return fail(cs, covered[e]
						    ? "entry covered twice"
						    : "entry without a record");
			if (!(pte[e] & PTE_P) && covered[e])
				return fail(cs, "record over an absent entry");
		}
	}
	/* Records into tables that no live vnode cap names. */
	for (uint32_t j = 0; j < cs->nslots; j++) {
		const struct gl_cap *s = &cs->slots[j];
		if (s->type == GL_CAP_NULL)
			continue;
		for (int k = 0; k < GL_CAP_MAPS; k++)
			if (s->maps[k].count &&
			    vnode_at(cs, s->maps[k].table_pa) < 0)
				return fail(cs, "record into a dead table");
	}
	return 0;
}
