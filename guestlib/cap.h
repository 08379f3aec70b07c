/* guestlib/cap.h: a Barrelfish-style capability space over guest-physical
 * memory: RAM/Frame/VNode caps, retype, copy, mint, delete, revoke, and the
 * install of a cap into a page-table entry, with mapping records so that
 * delete/revoke clear every PTE made through a cap.
 *
 * Pure logic on a memory view (like struct gl_pt): the cap space never
 * touches KVM, so it is unit-testable anywhere. TLB flushes and memslot
 * backing are the caller's business (not done here yet).
 *
 * Every operation validates everything first and then acts: on error it
 * returns -errno and nothing (caps, PTEs, memory) has changed.
 * Errors, the same meaning in every operation:
 *   -EBADF   a slot number out of range or (for sources) an empty slot
 *   -EEXIST  a destination slot is occupied / a page-table entry is present
 *   -EINVAL  a type not allowed here, a bad alignment, a zero count/size,
 *            unknown rights or flags bits
 *   -ERANGE  outside the source object, or index + count > 512
 *   -EBUSY   overlap with existing descendants (retype); deleting the last
 *            copy of an object that still has descendants (revoke first)
 *   -EPERM   rights would grow (mint); missing right for an install
 *   -ENOTSUP a 1 GiB frame install while the cap space says !gbpages
 *   -ENOSPC  no free slot (create_ram) or mapping record (install)
 */
#ifndef GL_CAP_H
#define GL_CAP_H

#include <stdint.h>

#define GL_CAP_SLOTS 4096 /* suggested cap space size */
#define GL_CAP_MAPS 8	  /* mapping records per cap */

enum gl_cap_type {
	GL_CAP_NULL = 0, /* empty slot */
	GL_CAP_RAM,
	GL_CAP_FRAME,
	GL_CAP_VNODE_PT,   /* level 1 */
	GL_CAP_VNODE_PD,   /* level 2 */
	GL_CAP_VNODE_PDPT, /* level 3 */
	GL_CAP_VNODE_PML4, /* level 4 */
	GL_CAP_NTYPES
};

/* Rights; copies keep them, mint may only drop some. */
#define GL_CAP_R 1u
#define GL_CAP_W 2u
#define GL_CAP_X 4u
#define GL_CAP_GRANT 8u
#define GL_CAP_ALL (GL_CAP_R | GL_CAP_W | GL_CAP_X | GL_CAP_GRANT)

/* One install: entries [index, index+count) of the table at table_pa map
 * the source from `offset` on. count == 0: unused record. */
struct gl_cap_map {
	uint64_t table_pa;
	uint64_t offset;
	uint16_t index, count;
};

struct gl_cap {
	uint8_t type; /* enum gl_cap_type */
	uint8_t rights;
	uint32_t obj;	     /* object id: copies share it */
	uint32_t parent_obj; /* object retyped from; 0 for authority RAM */
	uint64_t base, size; /* guest-physical range */
	struct gl_cap_map maps[GL_CAP_MAPS];
};

struct gl_cap_space {
	struct gl_cap *slots; /* caller-owned, zeroed, nslots entries */
	uint32_t nslots;
	int gbpages;				   /* CPU has 1 GiB pages */
	void *(*pa_to_va)(void *ctx, uint64_t pa); /* one 4 KiB page */
	/* Zero [pa, pa+len) for a retype (optional: else page by page
	 * through pa_to_va). Must not fail. */
	void (*zero)(void *ctx, uint64_t pa, uint64_t len);
	void *ctx;
	uint32_t next_obj; /* next object id (start at 0 or 1) */
	const char *why;   /* gl_cap_check: the first violation found */
};

struct gl_cap_info {
	enum gl_cap_type type;
	uint64_t base, size;
	unsigned rights;
};

/* The authority hands out RAM: [base, base+size) (4 KiB aligned, size > 0,
 * overlapping no live cap, else -EINVAL/-EBUSY) into the first free slot.
 * The memory is not touched. Returns the slot, or -errno. */
int gl_cap_create_ram(struct gl_cap_space *cs, uint64_t base, uint64_t size,
		      unsigned rights);

/* Make `count` objects of `type` and `objsize` bytes from the source at
 * `offset` into slots dest..dest+count-1 (all empty). RAM may become RAM,
 * FRAME or a VNODE; FRAME only FRAME. offset and objsize 4 KiB multiples,
 * vnodes exactly 4 KiB; the range must lie in the source and overlap no
 * existing descendant of the source object. New objects are zeroed and get
 * the source's rights. */
int gl_cap_retype(struct gl_cap_space *cs, int src, enum gl_cap_type type,
		  uint64_t offset, uint64_t objsize, uint32_t count, int dest);

/* A copy of src (same object, same rights, no mappings) into empty dest. */
int gl_cap_copy(struct gl_cap_space *cs, int src, int dest);

/* Like copy with `rights`, which must be a subset of src's (-EPERM). */
int gl_cap_mint(struct gl_cap_space *cs, int src, int dest, unsigned rights);

/* Remove one cap, clearing every PTE installed through it. Removing the
 * last copy of a vnode also clears every entry installed into it. The last
 * copy of an object with descendants cannot be deleted (-EBUSY). */
int gl_cap_delete(struct gl_cap_space *cs, int slot);

/* Delete every other copy and every descendant of slot's object (clearing
 * their PTEs); slot itself and its mappings stay. */
int gl_cap_revoke(struct gl_cap_space *cs, int slot);

int gl_cap_identify(const struct gl_cap_space *cs, int slot,
		    struct gl_cap_info *info);

/* Install src into entries [index, index+count) of the vnode `table`
 * (which needs the W right). Per level: PT takes FRAMEs (4 KiB pages) or
 * any vnode (its page, always read-only and NX); PD takes a PT vnode or a
 * FRAME as 2 MiB pages; PDPT takes a PD vnode or a FRAME as 1 GiB pages
 * (only with cs->gbpages); PML4 takes a PDPT vnode. Vnode sources: count 1,
 * offset 0. Frame pages: source needs R, base+offset aligned to the page
 * size, offset + count pages within the source. `flags` may hold PTE_W,
 * PTE_U, PTE_PWT, PTE_PCD, PTE_G, PTE_NX (PTE_P is implied); leaves lose W
 * without the W right and get NX without the X right. A present entry is
 * never overwritten (-EEXIST). The install is recorded on src. */
int gl_cap_install(struct gl_cap_space *cs, int table, int index, int src,
		   uint64_t flags, uint64_t offset, uint32_t count);

/* Undo one install: the record of src that starts at entry `index` of
 * the vnode `table` (as installed, all its entries). *ad (if not NULL)
 * gets the accessed/dirty bits the entries held, read atomically with
 * their removal. -EBADF bad slots, -EINVAL table not a vnode, -ENOENT no
 * such record. TLB flush: the caller's. */
int gl_cap_unmap(struct gl_cap_space *cs, int src, int table, int index,
		 uint64_t *ad);
/* What gl_cap_unmap would return, without doing it. */
int gl_cap_unmap_check(struct gl_cap_space *cs, int src, int table, int index);

/* The invariants: every present entry of every vnode is covered by exactly
 * one mapping record of a live cap whose type, rights and address match it
 * (and every record's entries are present); no two live non-RAM caps of
 * different types overlap (nor two vnode objects). Returns 0, or -EUCLEAN
 * with cs->why set. */
int gl_cap_check(struct gl_cap_space *cs);

#endif /* GL_CAP_H */
