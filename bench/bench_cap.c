/* bench/bench_cap.c: the cost of the capability operations (dune/cap.h),
 * measured in the guest, and of their nearest Linux analogues in the same
 * run. "dune" is a forked guest child (DUNE_MODE_AUTO: ring 3 here); the
 * Linux rows run in the parent, round by round between the child's
 * batches, order alternating.
 *
 * Every op is timed on its own (CLOCK_MONOTONIC through the vDSO: no exit,
 * ~20-30 ns included in every figure) with dune_get_stats() around it (no
 * exit either). One sample is the median of a batch of ops; a row gives
 * the median, p10 and p90 of ROUNDS samples, and exits/op over all of them.
 *
 * The child's fixed state: a 64 MiB RAM grant (host 4 KiB pages, 2 MiB
 * aligned) that every object below is retyped from, a 2 GiB reserved range
 * with a PD vnode grafted at its start, two PT vnodes installed in the PD's
 * entries 0 and 1 (so installs into them are live translations: each
 * install is checked by a write through the new mapping that must show in
 * the frame's own view), one 2 MiB frame for the 512-entry installs. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "dune/cap.h"
#include "dune/dune.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define ROUNDS 11
#define MAXBATCH 64
#define NDESC 64 /* descendants of the revoked RAM cap */
#define TOUCH_PAGES 1024
#define LEAF (DUNE_PTE_W | DUNE_PTE_U | DUNE_PTE_NX)

enum op {
	OP_ALLOC_FREE, OP_RAM_ALLOC, OP_RAM_DELETE, OP_RETYPE_F4K,
	OP_RETYPE_VNODE, OP_RETYPE_F2M, OP_INSTALL1, OP_UNMAP1, OP_INSTALL512,
	OP_UNMAP512, OP_DELETE_FRAME, OP_REVOKE64, OP_COPY, OP_MINT, OP_GRAFT,
	OP_UNGRAFT, OP_RAM_ALLOC_N1, OP_TOUCH_DEL, OP_TOUCH_BASE, NOPS
};
/* The Linux analogue of an op, measured in the parent. */
enum lin { L_NONE, L_MMAP_MUNMAP, L_MPROTECT, L_DONTNEED };
static const char *const lin_name[] = {"", "mmap_munmap", "mprotect",
				       "madv_dontneed"};

struct def {
	const char *name;
	int batch;	  /* ops per sample */
	enum lin lin;	  /* analogue */
	int want_exits;	  /* goal: exits per op (-1: none) */
	const char *note; /* what one op is */
	const char *lnote;
};
static const struct def defs[NOPS] = {
    [OP_ALLOC_FREE] = {"cap_alloc_free", 5, L_MMAP_MUNMAP, 2,
		       "dune_cap_ram_alloc(4 KiB) + dune_cap_delete of it "
		       "(the vmm grants a memslot and a view; the delete of "
		       "the last cap gives both back)",
		       "mmap(4 KiB anonymous) + munmap"},
    [OP_RAM_ALLOC] = {"cap_ram_alloc", 5, L_NONE, 1,
		      "dune_cap_ram_alloc(4 KiB; host 4 KiB pages)", ""},
    [OP_RAM_DELETE] = {"cap_ram_delete", 5, L_NONE, 1,
		       "dune_cap_delete of the only cap of a 4 KiB grant "
		       "(the grant goes back to the vmm; TLB flush)", ""},
    [OP_RETYPE_F4K] = {"cap_retype_f4k", 32, L_NONE, 0,
		       "dune_cap_retype RAM -> one 4 KiB FRAME (zeroed in "
		       "the guest)", ""},
    [OP_RETYPE_VNODE] = {"cap_retype_vnode", 32, L_NONE, 0,
			 "dune_cap_retype RAM -> one PT vnode (zeroed in "
			 "the guest)", ""},
    [OP_RETYPE_F2M] = {"cap_retype_f2m", 16, L_NONE, 1,
		       "dune_cap_retype RAM -> one 2 MiB FRAME (zeroed by the "
		       "vmm: MADV_DONTNEED; one exit)", ""},
    [OP_INSTALL1] = {"cap_install1", 32, L_MPROTECT, 0,
		     "dune_cap_install of a 4 KiB FRAME into 1 entry of a live "
		     "PT vnode (no flush needed)",
		     "mprotect of one page (PROT_NONE and PROT_READ|WRITE "
		     "alternately; per call)"},
    [OP_UNMAP1] = {"cap_unmap1", 32, L_DONTNEED, 0,
		   "dune_cap_unmap of that entry (clear + TLB flush; the "
		   "page was touched through it)",
		   "madvise(MADV_DONTNEED) of one touched page"},
    [OP_INSTALL512] = {"cap_install512", 16, L_NONE, 0,
		       "dune_cap_install of a 2 MiB FRAME into 512 entries "
		       "of a live PT vnode", ""},
    [OP_UNMAP512] = {"cap_unmap512", 16, L_NONE, 0,
		     "dune_cap_unmap of those 512 entries (every page "
		     "touched through them first)", ""},
    [OP_DELETE_FRAME] = {"cap_delete_frame", 32, L_NONE, 0,
			 "dune_cap_delete of an installed 4 KiB FRAME (its "
			 "entry cleared; TLB flush)", ""},
    [OP_REVOKE64] = {"cap_revoke64", 3, L_NONE, 0,
		     "dune_cap_revoke of a RAM cap with 64 FRAME descendants, "
		     "each installed in one entry (64 entries cleared; one "
		     "TLB flush)", ""},
    [OP_COPY] = {"cap_copy", 32, L_NONE, 0, "dune_cap_copy of a FRAME", ""},
    [OP_MINT] = {"cap_mint", 32, L_NONE, 0,
		 "dune_cap_mint of a FRAME to read-only", ""},
    [OP_GRAFT] = {"cap_graft", 32, L_NONE, 0,
		  "dune_cap_graft of a PD vnode at a reserved 1 GiB-aligned "
		  "address of the process's table", ""},
    [OP_UNGRAFT] = {"cap_ungraft", 32, L_NONE, 0,
		    "dune_cap_ungraft of it (TLB flush)", ""},
    [OP_RAM_ALLOC_N1] = {"cap_ram_alloc", 5, L_NONE, -1,
			 "the same with DUNE_NUMA_NODES=1 set (dune_cap_nodes() "
			 "then never calls libnuma's numa_available() (a "
			 "get_mempolicy syscall); since commit b081494 that "
			 "call is made once per process and not per grant)",
			 ""},
    [OP_TOUCH_DEL] = {"touch_after_delete", 3, L_NONE, -1,
		      "a write to each of 1024 mapped and recently touched "
		      "4 KiB pages of ordinary memory right after a "
		      "dune_cap_delete that gave a grant back; per page (a "
		      "refault would show here if the memslot deletion "
		      "dropped KVM's shadow translations of other slots: "
		      "KVM_X86_QUIRK_SLOT_ZAP_ALL; the vmm disables it)", ""},
    [OP_TOUCH_BASE] = {"touch_after_delete", 3, L_NONE, -1,
		       "the same writes with no delete before them; per page",
		       ""},
};

/* ---- the guest child ---------------------------------------------------------- */
static struct {
	int ok;
	int pool;		/* 64 MiB RAM */
	uint64_t next;		/* bump allocator in the pool (offsets) */
	char *resv;		/* 2 GiB reserved */
	int pd, pt1, pt2, pd2;	/* pd grafted at resv; pts in its entries */
	int f2m;		/* 2 MiB frame for the 512-entry installs */
	volatile char *touch;	/* TOUCH_PAGES of ordinary memory */
} G;

#define CK(x)                                                                  \
	do {                                                                   \
		long r_ = (long)(x);                                           \
		if (r_ < 0) {                                                  \
			fprintf(stderr, "bench_cap: %s: %s (line %d)\n", #x,   \
				strerror((int)-r_), __LINE__);                 \
			return (int)r_;                                        \
		}                                                              \
	} while (0)

/* Offset of `size` bytes at `align` in the pool (never reused: the pool
 * is large enough for the run). */
static uint64_t pool_take(uint64_t size, uint64_t align)
{
	G.next = (G.next + align - 1) & ~(align - 1);
	uint64_t o = G.next;
	G.next += size;
	return o;
}

static int retype1(int src, enum dune_cap_type t, uint64_t off,
		   uint64_t size)
{
	int s = dune_cap_free_slots(1);
	if (s < 0)
		return s;
	int r = dune_cap_retype(src, t, off, size, 1, s);
	return r < 0 ? r : s;
}

static int guest_setup(void)
{
	if (G.ok)
		return 0;
	CK(G.pool = dune_cap_ram_alloc(64 * MiB, 2 * MiB, -1,
				       DUNE_HOST_PAGES_4K));
	G.resv = dune_cap_reserve(2 * GiB, GiB);
	if (!G.resv)
		return -errno;
	CK(G.pd = retype1(G.pool, DUNE_CAP_VNODE_PD, pool_take(4 * KiB, 4 * KiB),
			  4 * KiB));
	CK(G.pd2 = retype1(G.pool, DUNE_CAP_VNODE_PD,
			   pool_take(4 * KiB, 4 * KiB), 4 * KiB));
	CK(G.pt1 = retype1(G.pool, DUNE_CAP_VNODE_PT,
			   pool_take(4 * KiB, 4 * KiB), 4 * KiB));
	CK(G.pt2 = retype1(G.pool, DUNE_CAP_VNODE_PT,
			   pool_take(4 * KiB, 4 * KiB), 4 * KiB));
	CK(dune_cap_install(G.pd, 0, G.pt1, 0, 0, 1));
	CK(dune_cap_install(G.pd, 1, G.pt2, 0, 0, 1));
	CK(dune_cap_graft(NULL, G.resv, G.pd));
	CK(G.f2m = retype1(G.pool, DUNE_CAP_FRAME, pool_take(2 * MiB, 2 * MiB),
			   2 * MiB));
	G.ok = 1;
	return 0;
}

/* Timing one op: t and counts around it. */
struct tm {
	uint64_t t0;
	struct bench_counts c0;
};
static double tsamp[MAXBATCH];
static struct bench_counts tsum;
static inline void tm_start(struct tm *t)
{
	bench_counts_read(&t->c0);
	t->t0 = bench_now_ns();
}
static inline void tm_stop(struct tm *t, int i)
{
	uint64_t t1 = bench_now_ns();
	struct bench_counts c1, d;
	bench_counts_read(&c1);
	tsamp[i] = (double)(t1 - t->t0);
	bench_counts_sub(&d, &c1, &t->c0);
	tsum.exits += d.exits;
	tsum.syscalls += d.syscalls;
	tsum.faults += d.faults;
	tsum.monitor_ns += d.monitor_ns;
}

/* A batch timed as a whole: every op gets the mean (ops too cheap for
 * the clock's ~10 ns steps and ~25 ns cost). */
static inline void tm_stop_all(struct tm *t, int n)
{
	tm_stop(t, 0);
	double per = tsamp[0] / n;
	for (int i = 0; i < n; i++)
		tsamp[i] = per;
}

/* The 4 KiB page at entry i of pt1 / pt2 in the reserved range. */
static volatile uint64_t *va_pt1(int i)
{
	return (volatile uint64_t *)(G.resv + (uint64_t)i * 4 * KiB);
}
static volatile uint64_t *va_pt2(int i)
{
	return (volatile uint64_t *)(G.resv + 2 * MiB + (uint64_t)i * 4 * KiB);
}

/* Write through the installed mapping; the frame's view must show it. */
static int check_map(volatile uint64_t *va, int frame, uint64_t off,
		     uint64_t val)
{
	*va = val;
	uint64_t *view = dune_cap_va(frame);
	return view && view[off / 8] == val ? 0 : -EPROTO;
}

static int run_batch(int op, int n, uint64_t round)
{
	struct tm t;
	int s[MAXBATCH], r;
	switch (op) {
	case OP_RAM_ALLOC_N1:
		setenv("DUNE_NUMA_NODES", "1", 1);
		r = run_batch(OP_RAM_ALLOC, n, round);
		unsetenv("DUNE_NUMA_NODES");
		return r;
	case OP_ALLOC_FREE:
		for (int i = 0; i < n; i++) {
			tm_start(&t);
			CK(s[i] = dune_cap_ram_alloc(4 * KiB, 0, -1,
						     DUNE_HOST_PAGES_4K));
			CK(dune_cap_delete(s[i]));
			tm_stop(&t, i);
		}
		return 0;
	case OP_RAM_ALLOC:
	case OP_RAM_DELETE:
		/* n grants in a row, then n deletes in a row: with KVM's
		 * zap-all quirk on (DUNE_SLOT_ZAP_ALL=1) a delete makes the
		 * next ops refault (touch_after_delete), which then hits
		 * only the first of each run. */
		for (int i = 0; i < n; i++) {
			if (op == OP_RAM_ALLOC)
				tm_start(&t);
			CK(s[i] = dune_cap_ram_alloc(4 * KiB, 0, -1,
						     DUNE_HOST_PAGES_4K));
			if (op == OP_RAM_ALLOC)
				tm_stop(&t, i);
		}
		for (int i = 0; i < n; i++) {
			if (op == OP_RAM_DELETE)
				tm_start(&t);
			CK(dune_cap_delete(s[i]));
			if (op == OP_RAM_DELETE)
				tm_stop(&t, i);
		}
		return 0;
	case OP_TOUCH_DEL:
	case OP_TOUCH_BASE:
		if (!G.touch) {
			G.touch = mmap(NULL, TOUCH_PAGES * 4 * KiB,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (G.touch == MAP_FAILED) {
				G.touch = NULL;
				return -ENOMEM;
			}
			madvise((void *)(uintptr_t)G.touch,
				TOUCH_PAGES * 4 * KiB, MADV_NOHUGEPAGE);
		}
		for (int i = 0; i < n; i++) {
			CK(s[i] = dune_cap_ram_alloc(4 * KiB, 0, -1,
						     DUNE_HOST_PAGES_4K));
			for (int j = 0; j < TOUCH_PAGES; j++)
				G.touch[(size_t)j * 4 * KiB]++;
			if (op == OP_TOUCH_DEL)
				CK(dune_cap_delete(s[i]));
			tm_start(&t);
			for (int j = 0; j < TOUCH_PAGES; j++)
				G.touch[(size_t)j * 4 * KiB]++;
			tm_stop(&t, i);
			tsamp[i] /= TOUCH_PAGES;
			if (op == OP_TOUCH_BASE)
				CK(dune_cap_delete(s[i]));
		}
		return 0;
	case OP_RETYPE_F4K:
	case OP_RETYPE_VNODE:
	case OP_RETYPE_F2M: {
		uint64_t sz = op == OP_RETYPE_F2M ? 2 * MiB : 4 * KiB;
		enum dune_cap_type ty = op == OP_RETYPE_VNODE
					    ? DUNE_CAP_VNODE_PT
					    : DUNE_CAP_FRAME;
		/* The same range each time: retype, delete. */
		static uint64_t off[3];
		int k = op - OP_RETYPE_F4K;
		if (!off[k])
			off[k] = pool_take(sz, sz);
		for (int i = 0; i < n; i++) {
			CK(s[i] = dune_cap_free_slots(1));
			tm_start(&t);
			CK(dune_cap_retype(G.pool, ty, off[k], sz, 1, s[i]));
			tm_stop(&t, i);
			CK(dune_cap_delete(s[i]));
		}
		return 0;
	}
	case OP_INSTALL1:
	case OP_UNMAP1:
	case OP_DELETE_FRAME: {
		static uint64_t off;
		if (!off)
			off = pool_take((uint64_t)MAXBATCH * 4 * KiB, 4 * KiB);
		int f0;
		CK(f0 = dune_cap_free_slots((unsigned)n));
		CK(dune_cap_retype(G.pool, DUNE_CAP_FRAME, off, 4 * KiB,
				   (unsigned)n, f0));
		if (op == OP_INSTALL1) {
			tm_start(&t);
			for (int i = 0; i < n; i++)
				CK(dune_cap_install(G.pt1, i, f0 + i, LEAF, 0,
						    1));
			tm_stop_all(&t, n);
		}
		for (int i = 0; i < n; i++) {
			if (op != OP_INSTALL1)
				CK(dune_cap_install(G.pt1, i, f0 + i, LEAF, 0,
						    1));
			CK(check_map(va_pt1(i), f0 + i, 0, round << 16 | (uint64_t)i));
			if (op == OP_UNMAP1) {
				tm_start(&t);
				CK(dune_cap_unmap(f0 + i, G.pt1, i));
				tm_stop(&t, i);
			}
		}
		for (int i = 0; i < n; i++) {
			if (op == OP_DELETE_FRAME)
				tm_start(&t);
			CK(dune_cap_delete(f0 + i));
			if (op == OP_DELETE_FRAME)
				tm_stop(&t, i);
		}
		return 0;
	}
	case OP_INSTALL512:
	case OP_UNMAP512:
		for (int i = 0; i < n; i++) {
			if (op == OP_INSTALL512)
				tm_start(&t);
			CK(dune_cap_install(G.pt2, 0, G.f2m, LEAF, 0, 512));
			if (op == OP_INSTALL512)
				tm_stop(&t, i);
			for (int j = 0; j < 512; j++)
				*va_pt2(j) = round + (uint64_t)j;
			CK(check_map(va_pt2(511), G.f2m, 511 * 4 * KiB,
				     round << 16 | (uint64_t)i));
			if (op == OP_UNMAP512)
				tm_start(&t);
			CK(dune_cap_unmap(G.f2m, G.pt2, 0));
			if (op == OP_UNMAP512)
				tm_stop(&t, i);
		}
		return 0;
	case OP_REVOKE64: {
		static uint64_t off;
		if (!off)
			off = pool_take(NDESC * 4 * KiB, 4 * KiB);
		for (int i = 0; i < n; i++) {
			int ram, f0;
			CK(ram = retype1(G.pool, DUNE_CAP_RAM, off,
					 NDESC * 4 * KiB));
			CK(f0 = dune_cap_free_slots(NDESC));
			CK(dune_cap_retype(ram, DUNE_CAP_FRAME, 0, 4 * KiB, NDESC,
					   f0));
			for (int j = 0; j < NDESC; j++) {
				CK(dune_cap_install(G.pt1, j, f0 + j, LEAF, 0,
						    1));
				*va_pt1(j) = (uint64_t)j; /* live in the TLB */
			}
			tm_start(&t);
			CK(dune_cap_revoke(ram));
			tm_stop(&t, i);
			CK(dune_cap_delete(ram));
		}
		return 0;
	}
	case OP_COPY:
	case OP_MINT: {
		int d0;
		CK(d0 = dune_cap_free_slots((unsigned)n));
		tm_start(&t);
		for (int i = 0; i < n; i++)
			if (op == OP_COPY)
				CK(dune_cap_copy(G.f2m, d0 + i));
			else
				CK(dune_cap_mint(G.f2m, d0 + i, DUNE_CAP_R));
		tm_stop_all(&t, n);
		for (int i = 0; i < n; i++)
			CK(dune_cap_delete(d0 + i));
		return 0;
	}
	case OP_GRAFT:
	case OP_UNGRAFT:
		for (int i = 0; i < n; i++) {
			void *va = G.resv + GiB;
			if (op == OP_GRAFT)
				tm_start(&t);
			CK(dune_cap_graft(NULL, va, G.pd2));
			if (op == OP_GRAFT)
				tm_stop(&t, i);
			if (op == OP_UNGRAFT)
				tm_start(&t);
			CK(dune_cap_ungraft(NULL, va));
			if (op == OP_UNGRAFT)
				tm_stop(&t, i);
		}
		return 0;
	}
	return -EINVAL;
}

/* Request: op, iters = batch size, result = round. Reply: ns = the batch
 * median in ps (one decimal of a ns matters), d = counts summed. */
static void serve(struct bench_msg *m)
{
	int r = guest_setup();
	memset(&tsum, 0, sizeof(tsum));
	if (!r)
		r = run_batch(m->op, (int)m->iters, m->result);
	if (r) {
		m->err = -r;
		return;
	}
	m->ns = (uint64_t)(bench_median(tsamp, (int)m->iters) * 1000.0);
	m->d = tsum;
}

/* ---- Linux (parent) ----------------------------------------------------------- */
static char *l_page;

static double linux_batch(enum lin l, int n)
{
	uint64_t t0;
	for (int i = 0; i < n; i++) {
		switch (l) {
		case L_MMAP_MUNMAP: {
			t0 = bench_now_ns();
			void *p = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED || munmap(p, 4 * KiB))
				return -1;
			break;
		}
		case L_MPROTECT:
			t0 = bench_now_ns();
			if (mprotect(l_page, 4 * KiB,
				     i % 2 ? PROT_READ | PROT_WRITE : PROT_NONE))
				return -1;
			break;
		case L_DONTNEED:
			l_page[0] = (char)i;
			t0 = bench_now_ns();
			if (madvise(l_page, 4 * KiB, MADV_DONTNEED))
				return -1;
			break;
		default:
			return -1;
		}
		tsamp[i] = (double)(bench_now_ns() - t0);
	}
	if (l == L_MPROTECT && n % 2)
		mprotect(l_page, 4 * KiB, PROT_READ | PROT_WRITE);
	return bench_median(tsamp, n);
}

/* ---- driver ------------------------------------------------------------------- */
static double dsamp[NOPS][ROUNDS], lsamp[NOPS][ROUNDS];
static struct bench_counts dcount[NOPS];

int main(void)
{
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	if (r) {
		fprintf(stderr, "bench_cap: %s\n", strerror(-r));
		return 1;
	}
	l_page = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l_page == MAP_FAILED)
		return 1;
	l_page[0] = 1;
	struct bench_msg m;
	/* One warm-up batch of each op (setup in the child), not counted. */
	for (int op = 0; op < NOPS && !r; op++) {
		memset(&m, 0, sizeof(m));
		m.op = op;
		m.iters = (uint64_t)defs[op].batch;
		r = bench_guest_call(&g, &m);
		if (!r && defs[op].lin)
			linux_batch(defs[op].lin, defs[op].batch);
	}
	for (int i = 0; i < ROUNDS && !r; i++)
		for (int op = 0; op < NOPS && !r; op++) {
			const struct def *d = &defs[op];
			double ls = 0;
			if (d->lin && i % 2)
				ls = linux_batch(d->lin, d->batch);
			memset(&m, 0, sizeof(m));
			m.op = op;
			m.iters = (uint64_t)d->batch;
			m.result = (uint64_t)i + 1;
			r = bench_guest_call(&g, &m);
			if (r)
				break;
			dsamp[op][i] = (double)m.ns / 1000.0;
			dcount[op].exits += m.d.exits;
			dcount[op].syscalls += m.d.syscalls;
			dcount[op].faults += m.d.faults;
			dcount[op].monitor_ns += m.d.monitor_ns;
			if (d->lin && !(i % 2))
				ls = linux_batch(d->lin, d->batch);
			if (ls < 0) {
				perror("bench_cap: linux analogue");
				r = -EIO;
			}
			lsamp[op][i] = ls;
		}
	bench_guest_stop(&g);
	if (r) {
		fprintf(stderr, "bench_cap: %s%s\n", strerror(-r),
			r == -EPROTO ? " (a write through an installed "
				       "mapping did not reach the frame)"
				     : "");
		return 1;
	}
	bench_csv_header(stdout);
	for (int op = 0; op < NOPS; op++) {
		const struct def *d = &defs[op];
		double tmp[ROUNDS], ratio[ROUNDS];
		char goal[160] = "", note[600];
		struct bench_row row = bench_row_init(
		    d->name,
		    op == OP_RAM_ALLOC_N1  ? "dune_nodes1"
		    : op == OP_TOUCH_BASE ? "dune_nodel"
					  : "dune",
		    "ns");
		memcpy(tmp, dsamp[op], sizeof(tmp));
		bench_summarize(tmp, ROUNDS, &row.s);
		double nops = (double)ROUNDS * d->batch;
		row.exits_per_op = (double)dcount[op].exits / nops;
		row.syscalls_per_op = (double)dcount[op].syscalls / nops;
		row.faults_per_op = (double)dcount[op].faults / nops;
		if (d->want_exits >= 0 &&
		    (op == OP_INSTALL1 || op == OP_UNMAP1 ||
		     op == OP_INSTALL512 || op == OP_UNMAP512 ||
		     op == OP_RAM_ALLOC || op == OP_RAM_DELETE)) {
			int met = fabs(row.exits_per_op - d->want_exits) < 1e-9;
			snprintf(goal, sizeof(goal), "%s%d exit%s per op: %s",
				 d->want_exits ? "exactly " : "",
				 d->want_exits, d->want_exits == 1 ? "" : "s",
				 met ? "met" : "NOT met");
		}
		row.goal = goal;
		snprintf(note, sizeof(note), "%s; sample: median of a batch "
			 "of %d ops, %s; time in the vmm %.0f ns per op",
			 d->note, d->batch,
			 op == OP_INSTALL1 || op == OP_COPY || op == OP_MINT
			     ? "timed together (per op: the mean)"
			     : "each timed alone",
			 (double)dcount[op].monitor_ns / nops);
		row.note = note;
		bench_csv_row(stdout, &row);
		if (!d->lin)
			continue;
		row = bench_row_init(d->name, lin_name[d->lin], "ns");
		memcpy(tmp, lsamp[op], sizeof(tmp));
		for (int i = 0; i < ROUNDS; i++)
			ratio[i] = dsamp[op][i] / lsamp[op][i];
		bench_summarize(tmp, ROUNDS, &row.s);
		row.ratio = bench_median(ratio, ROUNDS);
		row.exits_per_op = 0;
		snprintf(note, sizeof(note), "Linux analogue: %s; ratio: dune "
			 "over this row per round; sample: median of a batch "
			 "of %d", d->lnote, d->batch);
		row.note = note;
		bench_csv_row(stdout, &row);
	}
	return 0;
}
