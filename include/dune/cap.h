/* dune/cap.h: capabilities over guest-physical memory (the Barrelfish
 * model). See docs/capabilities.md for the rules and the tests that hold
 * them.
 *
 * The vmm is the authority: dune_cap_ram_alloc() asks it for fresh memory
 * (one exit), which it backs with a memslot only while a capability for it
 * lives; the last delete gives it back (one exit) and from then on no page-
 * table entry, however written, reaches it (the access kills the process
 * with SIGSEGV). Everything else happens in the guest without a VM exit:
 * retype RAM into frames and page-table nodes (vnodes), copy, mint with
 * fewer rights, install into a vnode, unmap, delete, revoke. Page-table
 * entries exist only through install, each recorded on its source cap, so
 * delete and revoke clear every entry made through what they remove, then
 * flush the TLB.
 *
 * Addresses: a cap names guest-physical [base, base + size). Granted memory
 * also has a view at the same guest-virtual address (dune_cap_va): read and
 * write it there, and pass it to syscalls (the host sees the same bytes).
 * What you install elsewhere is seen by the guest only.
 *
 * Slots: the process has one cap space of DUNE_CAP_SLOTS slots (env
 * DUNE_CAP_SLOTS overrides, read at first use). Operations that create caps
 * take the destination slot(s), which must be empty; dune_cap_free_slots()
 * finds some. Thread-safe (one lock).
 *
 * Errors (negative errno; on error nothing has changed):
 *   -EBADF    a slot out of range, or an empty source slot
 *   -EEXIST   a destination slot is occupied / a page-table entry present
 *   -EINVAL   a type or flag not allowed there, bad alignment, zero count
 *   -ERANGE   outside the source object, or index + count > 512
 *   -EBUSY    overlap with existing descendants (retype); deleting the last
 *             copy of an object that has descendants (revoke it first)
 *   -EPERM    rights would grow (mint), or a missing right (install)
 *   -ENOTSUP  1 GiB frames on a CPU without them
 *   -ENOSPC   no free slot / mapping record / vmm grant left
 *   -ENOMEM   the vmm's RAM budget (DUNE_RAM_MAX_MB) is used up, or no
 *             hugetlb pages are reserved on the host
 *   -ENOENT   unmap: no such install
 *   -EPERM    (any call) not inside dune
 */
#ifndef DUNE_CAP_H
#define DUNE_CAP_H

#include <stddef.h>
#include <stdint.h>

#include "dune/abi.h"
#include "dune/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DUNE_CAP_SLOTS 4096

enum dune_cap_type {
	DUNE_CAP_NULL = 0, /* empty slot */
	DUNE_CAP_RAM,	   /* untyped memory: retype it */
	DUNE_CAP_FRAME,	   /* mappable memory */
	DUNE_CAP_VNODE_PT, /* page-table node, level 1 (4 KiB leaves) */
	DUNE_CAP_VNODE_PD, /* level 2 (2 MiB leaves or PTs) */
	DUNE_CAP_VNODE_PDPT, /* level 3 (1 GiB leaves or PDs) */
	DUNE_CAP_VNODE_PML4, /* level 4 (PDPTs) */
};

/* Rights: copies keep them, mint may only drop some. */
#define DUNE_CAP_R 1u
#define DUNE_CAP_W 2u
#define DUNE_CAP_X 4u
#define DUNE_CAP_GRANT 8u
#define DUNE_CAP_ALL 15u

struct dune_cap_info {
	enum dune_cap_type type;
	unsigned rights;
	uint64_t base, size; /* guest-physical */
	/* properties of the memory, from its grant */
	int node;	/* NUMA node asked for (may be emulated), -1: any */
	int host_node;	/* host node the memory is bound to, -1: none */
	int host_pages; /* DUNE_HOST_PAGES_* */
	int thp;	/* THP may back it (host_pages THP and THP on) */
	uint64_t grant_base, grant_size;
};

/* ---- the authority (one VM exit each) -------------------------------- */
/* NUMA nodes offered: DUNE_NUMA_NODES (emulated, for testing on one-node
 * machines: node n is placed on host node n % host nodes) or the host's
 * count (libnuma; 1 without NUMA). */
int dune_cap_nodes(void);
/* Fresh zeroed RAM from the vmm, into a free slot with all rights:
 * size a 4 KiB multiple (2 MiB with huge host pages), align a power of
 * two (0: 4 KiB), node in [0, dune_cap_nodes()) or -1, host_pages
 * DUNE_HOST_PAGES_4K/THP/HUGETLB. Returns the slot or -errno. */
int dune_cap_ram_alloc(uint64_t size, uint64_t align, int node,
		       int host_pages);
/* What the vmm allows and how much is in use. */
int dune_cap_ram_limits(struct dune_ram_limits *out);

/* ---- the cap space (no VM exit, unless noted) ------------------------ */
/* Make count objects of `type`, objsize bytes each, from src at offset
 * into slots dest..dest+count-1. RAM becomes RAM, FRAME or a vnode (4 KiB
 * each); FRAME only FRAME. New objects are zeroed (large ones by the vmm:
 * one exit) and get src's rights. */
int dune_cap_retype(int src, enum dune_cap_type type, uint64_t offset,
		    uint64_t objsize, unsigned count, int dest);
int dune_cap_copy(int src, int dest);
int dune_cap_mint(int src, int dest, unsigned rights);
/* Remove one cap and every entry installed through it (and, for the last
 * copy of a vnode, every entry installed into it); TLB flushed. The last
 * cap of a grant gives the memory back to the vmm (one exit). */
int dune_cap_delete(int slot);
/* Delete every other copy and every descendant of slot's object, with
 * their entries; TLB flushed. slot itself stays. */
int dune_cap_revoke(int slot);
int dune_cap_identify(int slot, struct dune_cap_info *info);
/* Install src into entries [index, index+count) of vnode `table` (needs
 * W): PT takes FRAMEs (4 KiB pages) or any vnode (read-only, NX: to read
 * A/D bits); PD a PT or FRAMEs as 2 MiB pages; PDPT a PD or FRAMEs as
 * 1 GiB pages (CPU permitting); PML4 a PDPT. flags: DUNE_PTE_W, DUNE_PTE_U,
 * DUNE_PTE_NX, PCD/PWT/G bits; W and X only as src's rights allow. Never
 * overwrites a present entry. No flush needed, none done. */
int dune_cap_install(int table, int index, int src, uint64_t flags,
		     uint64_t offset, unsigned count);
/* Undo the install of src at entry `index` of `table`; TLB flushed. */
int dune_cap_unmap(int src, int table, int index);
/* The same, and *ad gets the accessed/dirty bits (DUNE_PTE_A/D) the
 * entries held, taken atomically with their removal: a pager that unmaps
 * first and writes back when D was set loses no write (a write after the
 * removal faults). */
int dune_cap_unmap_ad(int src, int table, int index, uint64_t *ad);
/* n unmaps, one TLB flush (and one shootdown) for all: e.g. a page in
 * every replica of a replicated table. All are checked first: on an error
 * none is done. *ad (if not NULL) gets the OR of their A/D bits. */
struct dune_cap_unmap {
	int src, table, index;
};
int dune_cap_unmap_many(const struct dune_cap_unmap *u, unsigned n,
			uint64_t *ad);
/* The first of count consecutive empty slots, or -ENOSPC. */
int dune_cap_free_slots(unsigned count);
/* The guest-virtual view of a cap's memory (base), or NULL. */
void *dune_cap_va(int slot);
/* Check the invariants (every present entry of every vnode is covered by
 * exactly one mapping record of a live cap with the rights it shows; no
 * overlapping objects of different types). 0, or -EUCLEAN with *why. */
int dune_cap_check(const char **why);

/* ---- the default (Unix-like) address space -------------------------- */
/* The process's own mappings are its implicit capabilities: its page
 * table (dune_pgroot) is the vmm's, kept in step with the host. Cap-built
 * tables join it through grafts, in ranges the guest owns. */

/* A guest-owned virtual range: len and align 2 MiB multiples (align a
 * power of two up to 512 GiB). The host keeps it reserved and never maps
 * or syncs it; nothing is mapped there until you graft. One exit. */
void *dune_cap_reserve(size_t len, size_t align);
/* Give it back (exactly as reserved); grafts in it are removed first. */
int dune_cap_unreserve(void *va, size_t len);
/* Hook vnode (a PT, PD or PDPT) into root (NULL: the process's table) at
 * va, which must be aligned to what the vnode spans (2 MiB, 1 GiB,
 * 512 GiB) and inside a reserved range; the entry there must be empty.
 * Missing intermediate tables are made. -EINVAL, -EFAULT (not reserved),
 * -EEXIST. */
int dune_cap_graft(ptent_t *root, void *va, int vnode);
/* Remove the graft at va (TLB flushed). -ENOENT if none. */
int dune_cap_ungraft(ptent_t *root, void *va);
/* A new root that shares every top-level entry of the process's table
 * (the vmm copies in entries the process gains later), for grafts of its
 * own: e.g. one per NUMA node. Switch to it with dune_set_root(). NULL
 * on failure. */
ptent_t *dune_cap_root_new(void);
void dune_cap_root_free(ptent_t *root);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_CAP_H */
