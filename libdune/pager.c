/* libdune/pager.c: the memory objects of a region (anonymous demand-zero,
 * file, one frame cap) and the pager: a region's frames form a pool of at
 * most `budget` frames; when it is full, the clock hand picks a victim by
 * the accessed bits of its entries in every replica (second chance), a
 * dirty victim (D bit) is written to the swap file at its vspace offset,
 * a clean one is dropped, and the frame is reused. Runs in the #PF
 * handler with the vspace lock held: no malloc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vspace_int.h"

static uint64_t pgsize(const struct vs_region *r)
{
	return 1ull << r->shift;
}

static off_t swap_off(const struct vs_region *r, uint32_t i)
{
	return (off_t)(r->start - r->vs->base) + ((off_t)i << r->shift);
}

/* Table spans (a PT covers 2 MiB, a PD 1 GiB) the region touches. */
static uint64_t run_span(const struct vs_region *r)
{
	return r->shift == 12 ? VS_LPG : VS_GIB;
}

int vs_pager_init(struct vs_region *r)
{
	r->page = calloc(r->npages, sizeof(*r->page));
	if (!r->page)
		return -ENOMEM;
	if (r->backing == VS_FRAME) {
		uint64_t span = run_span(r);
		uintptr_t t0 = r->start & ~(span - 1);
		r->nruns = (uint32_t)((r->start + r->len - t0 + span - 1) / span);
		r->runs = malloc(r->nruns * sizeof(*r->runs));
		if (r->runs)
			memset(r->runs, -1, r->nruns * sizeof(*r->runs));
	} else {
		r->frames = calloc(r->cap, sizeof(*r->frames));
	}
	if (!r->runs && !r->frames) {
		free(r->page);
		r->page = NULL;
		return -ENOMEM;
	}
	return 0;
}

void vs_pager_fini(struct vs_region *r)
{
	for (uint32_t k = 0; r->runs && k < r->nruns; k++)
		if (r->runs[k] >= 0)
			dune_cap_delete(r->runs[k]); /* its entries go too */
	/* Deleting a frame clears every entry installed through it. */
	for (uint32_t k = 0; k < r->nframes; k++)
		vs_obj_free(r->vs, r->frames[k].slot);
	fallocate(r->vs->swapfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  swap_off(r, 0), (off_t)r->len);
	free(r->runs);
	free(r->frames);
	free(r->page);
	r->runs = NULL;
	r->frames = NULL;
	r->page = NULL;
	r->nframes = 0;
}

/* ---- I/O: through the frame's view, which the host sees ------------- */
static int io_full(int write, int fd, void *buf, uint64_t len, off_t off,
		   int zero_tail)
{
	uint64_t done = 0;
	while (done < len) {
		ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done,
					   off + (off_t)done)
				  : pread(fd, (char *)buf + done, len - done,
					  off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (!zero_tail)
				return -EIO;
			memset((char *)buf + done, 0, len - done); /* EOF */
			break;
		}
		done += (uint64_t)n;
	}
	return 0;
}

/* ---- the clock -------------------------------------------------------- */
static int page_bits(struct vs_region *r, uint32_t i, uint64_t bit, int clear)
{
	ptent_t *pte[VSPACE_MAX_NODES];
	int any = 0;
	vs_page_ptes(r, i, pte);
	for (int k = 0; k < r->vs->nrep; k++) {
		if (!pte[k])
			continue;
		if (clear)
			any |= !!(__atomic_fetch_and(pte[k], ~bit,
						     __ATOMIC_RELAXED) &
				  bit);
		else
			any |= !!(__atomic_load_n(pte[k], __ATOMIC_RELAXED) &
				  bit);
	}
	return any;
}

/* Second chance: a frame whose page was accessed since the hand last
 * passed loses its A bits and is skipped. The A bits cleared here become
 * trustworthy with the TLB flush of the victim's dune_cap_unmap(), or
 * with the explicit flush when a free frame ends the scan. */
static uint32_t clock_pick(struct vs_region *r)
{
	uint32_t n = r->nframes, fi = r->hand;
	int cleared = 0;
	for (uint32_t scan = 0; scan < 2 * n; scan++) {
		fi = r->hand;
		r->hand = (r->hand + 1) % n;
		if (r->frames[fi].page == VS_NOPAGE) {
			if (cleared)
				dune_flush_tlb();
			return fi;
		}
		if (!page_bits(r, r->frames[fi].page, DUNE_PTE_A, 1))
			return fi;
		cleared = 1;
	}
	return fi; /* every page in use all along: take the hand's */
}

/* Take page i's frame away: write it to swap if any replica saw a write. */
static int evict(struct vs_region *r, uint32_t fi)
{
	struct vs_frame *f = &r->frames[fi];
	uint32_t i = f->page;
	if (i == VS_NOPAGE)
		return 0;
	/* Unmap first: the D bits come back with the removal, and a write
	 * after it faults, so none is lost (even from another vCPU). */
	uint64_t ad = vs_unmap_page(r, i, f->slot);
	if (ad & DUNE_PTE_D) {
		int e = io_full(1, r->vs->swapfd, f->va, pgsize(r),
				swap_off(r, i), 0);
		if (e) { /* the data is still in the frame: map it again */
			vs_map_run(r, i, 1, f->slot, 0);
			return e;
		}
		r->page[i] |= VS_PG_SWAPPED;
		r->st.writebacks++;
	} else {
		r->st.clean_drops++;
	}
	r->page[i] &= VS_PG_SWAPPED;
	f->page = VS_NOPAGE;
	r->st.evictions++;
	r->st.resident--;
	return 0;
}

int vs_pager_evict_all(struct vs_region *r)
{
	if (r->backing == VS_FRAME)
		return 0;
	for (uint32_t k = 0; k < r->nframes; k++) {
		int e = evict(r, k);
		if (e)
			return e;
	}
	for (uint32_t k = 0; k < r->nframes; k++)
		vs_obj_free(r->vs, r->frames[k].slot);
	r->nframes = 0;
	r->hand = 0;
	return 0;
}

/* ---- the objects' fault routines ------------------------------------- */
/* VS_FRAME: the part of the cap under the faulting page's table, through
 * a copy of the cap (a cap has 8 mapping records: one per replica). */
static int frame_fault(struct vs_region *r, uint32_t i)
{
	uint64_t span = run_span(r);
	uintptr_t va = r->start + ((uintptr_t)i << r->shift);
	uintptr_t t = va & ~(span - 1);
	uint32_t run = (uint32_t)((t - (r->start & ~(span - 1))) / span);
	if (r->runs[run] >= 0) {
		r->st.spurious++;
		dune_flush_tlb_one(va);
		return 0;
	}
	uintptr_t lo = t > r->start ? t : r->start;
	uintptr_t hi = t + span < r->start + r->len ? t + span
						     : r->start + r->len;
	int copy = dune_cap_free_slots(1);
	int e = copy < 0 ? copy : dune_cap_copy(r->frame, copy);
	if (e)
		return e;
	e = vs_map_run(r, (uint32_t)((lo - r->start) >> r->shift),
		       (uint32_t)((hi - lo) >> r->shift), copy,
		       r->frame_offset + (lo - r->start));
	if (e) {
		dune_cap_delete(copy);
		return e;
	}
	r->runs[run] = copy;
	r->st.faults++;
	r->st.resident += (hi - lo) >> r->shift;
	return 0;
}

int vs_pager_fault(struct vs_region *r, uint32_t i, int node)
{
	if (r->backing == VS_FRAME)
		return frame_fault(r, i);
	if (r->page[i] & ~VS_PG_SWAPPED) {
		/* Mapped already: another thread's fault, or a stale TLB. */
		r->st.spurious++;
		dune_flush_tlb_one(r->start + ((uintptr_t)i << r->shift));
		return 0;
	}
	struct vs_frame *f = NULL;
	uint32_t fi = 0;
	int fresh = 0, e;
	if (r->nframes < r->cap) {
		uint64_t pa;
		int s = r->colours ? vs_frame_alloc_coloured(r->vs, node,
							     r->colours, &pa)
				   : vs_obj_alloc(r->vs, node, r->shift == 21,
						  DUNE_CAP_FRAME, &pa);
		if (s >= 0) {
			fi = r->nframes++;
			f = &r->frames[fi];
			*f = (struct vs_frame){s, VS_NOPAGE, (void *)pa};
			fresh = 1; /* retyped: zeroed */
		} else if (!r->nframes) {
			return s;
		}
	}
	if (!f) {
		/* Budget used up (or no RAM left, or no frame of the
		 * region's colours found): reuse a frame. */
		fi = clock_pick(r);
		f = &r->frames[fi];
		e = evict(r, fi);
		if (e)
			return e;
	}
	uint64_t len = pgsize(r);
	uint64_t *count;
	if (r->page[i] & VS_PG_SWAPPED) {
		e = io_full(0, r->vs->swapfd, f->va, len, swap_off(r, i), 0);
		count = &r->st.swapins;
	} else if (r->backing == VS_FILE) {
		e = io_full(0, r->fd, f->va, len,
			    r->file_offset + ((off_t)i << r->shift), 1);
		count = &r->st.file_reads;
	} else {
		if (!fresh)
			memset(f->va, 0, len);
		e = 0;
		count = &r->st.zero_fills;
	}
	if (!e)
		e = vs_map_run(r, i, 1, f->slot, 0);
	if (e)
		return e; /* the frame stays in the pool, free */
	(*count)++;
	f->page = i;
	r->page[i] |= fi + 1;
	r->st.faults++;
	r->st.resident++;
	return 0;
}
