/* libdune/vspace_int.h: what vspace.c (regions, tables, faults),
 * pager.c (frames, clock, swap), frames.c (physical memory per node) and
 * colour.c (cache colours of host frames) share. Not a public header. */
#ifndef DUNE_VSPACE_INT_H
#define DUNE_VSPACE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "dune/cap.h"
#include "dune/vspace.h"

#define VS_PG (1ull << 12)
#define VS_LPG (1ull << 21)
#define VS_GIB (1ull << 30)
#define VS_CHUNK (8ull << 20) /* RAM is asked for in 8 MiB grants */
#define VS_MAX_CHUNKS 256     /* the vmm's grant limit */
#define VS_NOPAGE UINT32_MAX
#define VS_PG_SWAPPED 0x80000000u /* page state: a copy is in the swap file */

/* One grant of RAM from one node, handed out in units (4 KiB or 2 MiB). */
struct vs_chunk {
	int slot; /* the RAM cap; -1: unused entry */
	int node, huge;
	uint64_t base;
	uint32_t nunits, nfree;
	uint64_t map[VS_CHUNK / VS_PG / 64]; /* units in use */
	uint8_t col[VS_CHUNK / VS_PG]; /* colour + 1 of 4 KiB units, 0: unread */
};

/* One page-table replica. */
struct vs_replica {
	int node;
	ptent_t *root; /* its own root (replicated), or NULL: the process's */
	int pdpt;      /* the PDPT vnode grafted at the vspace's base */
};

/* Tables of one GiB of the vspace, per replica. */
struct vs_gib {
	int nuse;	     /* regions overlapping this GiB */
	uint16_t use[512];   /* regions overlapping each 2 MiB */
	int pd[VSPACE_MAX_NODES];
	ptent_t *pdv[VSPACE_MAX_NODES];
	int pt[VSPACE_MAX_NODES][512]; /* -1: none yet */
	ptent_t *ptv[VSPACE_MAX_NODES][512];
};

/* A frame of a region's pool (pager). */
struct vs_frame {
	int slot;      /* FRAME cap */
	uint32_t page; /* page index in the region, VS_NOPAGE: free */
	void *va;      /* its view (== guest-physical) */
};

struct vs_region {
	struct vspace *vs;
	uintptr_t start;
	size_t len;
	unsigned flags;
	int node, shift; /* node policy; page shift (12 or 21) */
	enum vs_backing backing;
	int frame;	  /* VS_FRAME: the caller's cap */
	uint64_t frame_offset;
	int fd;		  /* VS_FILE: our duplicate */
	off_t file_offset;
	vs_fault_cb cb;
	void *cb_arg;
	uint64_t colours; /* cache colours its frames must have; 0: any */
	uint32_t npages;
	uint32_t *page;		 /* per page: frame index + 1 | VS_PG_SWAPPED */
	struct vs_frame *frames; /* pool: nframes used of cap */
	uint32_t nframes, cap, hand;
	int *runs; /* VS_FRAME: a copy of the cap per table, -1: none */
	uint32_t nruns;
	struct vs_stats st;
};

struct vspace {
	pthread_mutex_t lock;
	uintptr_t base;
	unsigned flags;
	int nnodes; /* dune_cap_nodes() */
	int nrep, grafted; /* replicas; rep[0] grafted in the process's */
	struct vs_replica rep[VSPACE_MAX_NODES];
	struct vs_gib *gib[512];
	struct vs_region **regions; /* sorted by start */
	int nregions, regions_cap;
	int swapfd;
	int pagemap;  /* /proc/self/pagemap (first coloured region), or -1 */
	int ncolours; /* vs_colour_count() when pagemap is open */
	struct vs_chunk chunks[VS_MAX_CHUNKS];
	uint64_t passed;
};

/* frames.c: a cap of `type` (FRAME of 4 KiB / 2 MiB, or a 4 KiB vnode)
 * retyped from RAM of node (-1: any) into a free slot. Returns the slot or
 * -errno; *pa gets its guest-physical address. */
int vs_obj_alloc(struct vspace *vs, int node, int huge,
		 enum dune_cap_type type, uint64_t *pa);
/* A 4 KiB FRAME from RAM of node whose host frame's colour is in
 * `colours` (vs->pagemap open): known units of those colours first (read
 * again: the host may have moved them; one exit each), then units never
 * read, in the chunks there are, then in a fresh one. Candidates never
 * read are written through their view (the host allocates them) and
 * their PFNs read up to VS_COLOUR_BATCH at a time (one exit). Units of
 * other colours stay free for other requests. -ENOMEM after
 * VS_COLOUR_TRIES candidates without a match (per phase). */
#define VS_COLOUR_TRIES 512
int vs_frame_alloc_coloured(struct vspace *vs, int node, uint64_t colours,
			    uint64_t *pa);
/* Delete it and mark its unit free (a chunk with nothing left in use goes
 * back to the vmm). */
void vs_obj_free(struct vspace *vs, int slot);
/* Give back every chunk (revoke, delete). */
void vs_chunks_release(struct vspace *vs);

/* colour.c: the number of colours this library tells apart (the LLC's,
 * folded to at most 64), or -ENOTSUP (no cache geometry in sysfs). */
int vs_colour_count(void);
/* /proc/self/pagemap opened and checked to show PFNs: the fd, or -ENOTSUP
 * (PFNs read as 0 without CAP_SYS_ADMIN). */
int vs_colour_open(void);
/* The colours of the n (<= VS_COLOUR_BATCH) host pages from va in out
 * (-1: not present): one pread (an exit inside dune). 0, or -ENOTSUP if
 * PFNs are hidden, or another -errno. */
#define VS_COLOUR_BATCH 64
int vs_colour_read(int pagemap, uintptr_t va, unsigned n, int ncolours,
		   int8_t *out);

/* vspace.c: install pages [i, i+count) of r (inside one table) from
 * `slot` at offset in every replica, making PTs as needed. 0 or -errno
 * (nothing installed). */
int vs_map_run(struct vs_region *r, uint32_t i, uint32_t count, int slot,
	       uint64_t offset);
/* Unmap page i from every replica; returns the A/D bits its entries held
 * (taken atomically with the removal, TLBs flushed). */
uint64_t vs_unmap_page(struct vs_region *r, uint32_t i, int slot);
/* The leaf entries of page i, one per replica (NULL where no table). */
void vs_page_ptes(struct vs_region *r, uint32_t i, ptent_t **out);

/* pager.c */
int vs_pager_init(struct vs_region *r);
void vs_pager_fini(struct vs_region *r);
/* Resolve a fault on page i (lock held): a frame, its contents, the
 * mapping. 0 or -errno. */
int vs_pager_fault(struct vs_region *r, uint32_t i, int node);
int vs_pager_evict_all(struct vs_region *r);
/* The thread's node for VS_NODE_LOCAL. */
int vs_thread_node(void);

#endif
