/* dune/vspace.h: a self-paged virtual address space on dune/cap.h (the
 * Barrelfish model: the application owns its physical memory, programs the
 * translation itself and receives its own page faults). See
 * docs/self-paging.md.
 *
 * A vspace is one guest-owned 512 GiB range (dune_cap_reserve, 512 GiB
 * aligned, so it is exactly one top-level entry): one PDPT vnode per
 * replica is grafted there, PD vnodes are made per GiB when a region first
 * covers it, PT vnodes per 2 MiB on the first fault in it. Inside it live
 * regions: [start, start+len) with R/W/X rights, a page size (4 KiB or
 * 2 MiB frames), a NUMA node policy and a memory object (anonymous demand
 * zero, one frame cap, or a file). A region may have a frame budget
 * smaller than its size: then the pager evicts pages to an unlinked swap
 * file (clock over the accessed bits; only dirty pages are written).
 *
 * Faults: the vspace registers the process's #PF handler
 * (dune_register_pgflt_handler); faults outside every region are handed
 * back to dune (dune_pgflt_pass), so stack growth, lazily mapped memory
 * and real SIGSEGVs keep working. A fault inside a region on an access the
 * region does not allow (a write to a read-only region, ...) becomes a
 * SIGSEGV too. Ring-3 mode only (the handler is ordinary C and makes
 * syscalls).
 *
 * Replication (VSPACE_REPLICATE, with dune_cap_nodes() >= 2): one page-
 * table replica per NUMA node, its vnodes made from RAM of that node, in
 * a root of its own (dune_cap_root_new); node 0's replica is also grafted
 * into the process's table, so threads that never bind see the vspace
 * too. Every map and unmap updates every replica.
 *
 * Memory given to the host: the guest-virtual addresses of a region exist
 * for the guest only; do not pass them to syscalls (copy through a buffer
 * of the process's own memory).
 *
 * Thread safety: one lock per vspace; faults from several threads are
 * served one at a time. An eviction unmaps the victim first
 * (dune_cap_unmap_ad: its A/D bits come back atomically and every vCPU's
 * TLB is shot down), then writes it back if it was dirty: no write is
 * lost.
 *
 * Errors (negative errno; on error nothing has changed):
 *   -EINVAL   unknown flags, zero length, misaligned address/length/offset,
 *             a budget with a frame object, a bad node or fd, colours
 *             with 2 MiB pages or a frame object, or beyond
 *             vspace_colours()
 *   -EEXIST   the region overlaps another one
 *   -ERANGE   outside the vspace, or beyond the frame cap
 *   -EPERM    a frame cap without the rights the region asks for; not
 *             inside dune
 *   -ENOTSUP  not ring-3 mode; more nodes than VSPACE_MAX_NODES;
 *             colours where host PFNs are not readable
 *   -ENOMEM, -ENOSPC  from the cap layer (RAM, slots, grants)
 *   -EBUSY    a second vspace while one exists (one #PF handler)
 */
#ifndef DUNE_VSPACE_H
#define DUNE_VSPACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dune/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VSPACE_MAX_NODES 8 /* a frame cap has 8 mapping records */
#define VSPACE_SIZE (512ull << 30)

struct vspace;
struct vs_region;

/* vspace_create() flags */
#define VSPACE_REPLICATE 0x1 /* one page-table replica per NUMA node */

/* Region flags */
#define VS_R 0x1
#define VS_W 0x2
#define VS_X 0x4
#define VS_PAGE_2M 0x10 /* 2 MiB frames in the PD (start, len 2 MiB aligned) */

/* Node policy (struct vs_region_attr.node): a node number, or */
#define VS_NODE_LOCAL (-1)	/* the faulting thread's node (vspace_bind) */
#define VS_NODE_INTERLEAVE (-2) /* page i from node i % nodes */

enum vs_backing {
	VS_ANON = 0, /* demand-zero */
	VS_FRAME,    /* one frame cap, installed as is (never paged) */
	VS_FILE,     /* pread from a file; private: writes go to swap only */
};

/* Per-region fault callback, called first on every fault of the region,
 * without the vspace lock. Return VS_CB_DEFAULT to let the region's memory
 * object resolve it, VS_CB_RESOLVED to resume (the callback fixed it), or
 * VS_CB_SEGV to treat it as a bad access (SIGSEGV). */
#define VS_CB_DEFAULT 0
#define VS_CB_RESOLVED 1
#define VS_CB_SEGV (-1)
typedef int (*vs_fault_cb)(struct vs_region *r, uintptr_t addr, uint64_t fec,
			   void *arg);

struct vs_region_attr {
	unsigned flags;		/* VS_R | VS_W | VS_X | VS_PAGE_2M */
	int node;		/* VS_NODE_LOCAL, VS_NODE_INTERLEAVE or a node */
	size_t budget;		/* bytes of frames; 0: no limit, no pager */
	enum vs_backing backing;
	int frame;		/* VS_FRAME: a FRAME cap (kept by the caller) */
	uint64_t frame_offset;	/* VS_FRAME: where in it the region starts */
	int fd;			/* VS_FILE: duplicated, the caller keeps fd */
	off_t file_offset;	/* VS_FILE: page-aligned */
	vs_fault_cb cb;		/* optional */
	void *cb_arg;
	/* Cache colours (bit c: colour c, c < vspace_colours()) the region's
	 * frames must have; 0: any. 4 KiB regions with a pager object only
	 * (not VS_PAGE_2M, not VS_FRAME: -EINVAL); -ENOTSUP where host PFNs
	 * are not readable. */
	uint64_t colours;
};

struct vs_stats {
	uint64_t faults;      /* faults resolved by a memory object */
	uint64_t evictions;   /* pages taken away from a region */
	uint64_t writebacks;  /* dirty evictions written to swap */
	uint64_t swapins;     /* pages read back from swap */
	uint64_t clean_drops; /* clean evictions (nothing written) */
	uint64_t zero_fills;  /* demand-zero pages */
	uint64_t file_reads;  /* pages read from a file object */
	uint64_t spurious;    /* faults on pages already present */
	uint64_t passed;      /* faults handed back to dune */
	uint64_t resident;    /* frames mapped now */
};

/* Make a vspace (reserves 512 GiB of virtual space, opens the swap file
 * in $DUNE_SWAP_DIR, $TMPDIR or /tmp, builds the replicas) and register
 * the #PF handler. One at a time. Must be inside dune, ring-3 mode. */
int vspace_create(unsigned flags, struct vspace **out);
/* Destroy every region, give back every cap, the reservation, the roots
 * and the swap file; unregister the handler. The calling thread goes back
 * to dune_pgroot() if it was bound; other threads must unbind first. */
int vspace_destroy(struct vspace *vs);
void *vspace_base(const struct vspace *vs);

/* A region at va (NULL: the lowest free place, aligned to its page size)
 * of len bytes. *out gets the region. */
int vspace_region_create(struct vspace *vs, void *va, size_t len,
			 const struct vs_region_attr *attr,
			 struct vs_region **out);
/* Unmap and free every frame of the region, drop its swap space. */
int vspace_region_destroy(struct vs_region *r);
void *vs_region_start(const struct vs_region *r);
size_t vs_region_len(const struct vs_region *r);
int vs_region_stats(const struct vs_region *r, struct vs_stats *out);
/* Evict every resident page of the region (as the pager would: dirty
 * pages to swap). For tests and for dropping memory early. */
int vs_region_evict_all(struct vs_region *r);

/* Sums over all regions (and faults passed back). */
int vspace_stats(struct vspace *vs, struct vs_stats *out);

/* Cache colours: the number of last-level-cache colours the vspace tells
 * apart (1..64: (LLC size / ways) / 4 KiB, folded to a divisor of it
 * <= 64 when larger; a frame's colour is its host PFN mod that), or
 * -ENOTSUP when host PFNs are not readable (/proc/self/pagemap shows them
 * only with CAP_SYS_ADMIN) or sysfs has no cache geometry. A few
 * syscalls; works inside or outside dune. See docs/self-paging.md. */
int vspace_colours(void);

/* Replication. */
int vspace_nreplicas(const struct vspace *vs);
/* The root of node's replica (the process's table when not replicated). */
ptent_t *vspace_root(const struct vspace *vs, int node);
/* Bind the calling thread to node: it runs on that node's root
 * (dune_set_root) and VS_NODE_LOCAL frames come from that node. node -1:
 * back to dune_pgroot(). */
int vspace_bind(struct vspace *vs, int node);
/* The vnode cap slots of node's replica (PDPT first, then PDs and PTs),
 * at most max of them; returns how many there are. */
int vspace_vnodes(struct vspace *vs, int node, int *slots, int max);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_VSPACE_H */
