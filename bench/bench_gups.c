/* bench/bench_gups.c: HPCC RandomAccess (GUPS) over one table size with
 * every page-size arrangement side by side in one run:
 *   native Linux   4 KiB pages (MADV_NOHUGEPAGE), THP (MADV_HUGEPAGE;
 *                  how much really got huge pages is read from smaps),
 *                  hugetlb 2 MiB (MAP_HUGETLB);
 *   dune plain     the table mmap'd normally inside the guest: the
 *                  identity-mapped default address space, 4 KiB guest pages
 *                  over 4 KiB host pages (THP is "madvise" here);
 *   dune caps      the table in capability memory (dune/cap.h): RAM from
 *                  dune_cap_ram_alloc over host 4 KiB, THP or hugetlb
 *                  pages, retyped into frames and installed as 4 KiB guest
 *                  pages (one 2 MiB FRAME per PT vnode, 512 entries each,
 *                  the PTs in PD vnodes) or as 2 MiB guest pages (one FRAME
 *                  in 512 PD entries), the PDs grafted at a reserved range;
 *                  1 GiB guest pages where the CPU has them.
 * The update loop is HPCC's reference code (128 interleaved LFSR streams,
 * table[ran & (size-1)] ^= ran), the same machine code on every side; the
 * dune side is a forked guest child (ring 3 here: native-speed code), the
 * native side the parent. Per variant: setup (mapping; the first touch
 * that writes table[i] = i is timed apart), a read-only random warm-up,
 * R timed update passes round-robin over all variants (order alternating
 * per round), then the verification: the same updates again until the
 * number of passes is even (XOR is its own inverse) and every word must be
 * its index again (0 errors). Output: CSV rows (bench.h) on stdout.
 *
 * usage: bench_gups [--size-mb N[,N...]] [--updates N] [--reps R]
 *   --size-mb  table sizes in MiB, powers of two >= 4 (default 1024), run
 *              one after the other
 *   --updates  update count per pass (default 2^25), a multiple of 128
 *   --reps     timed passes per variant (default 5)
 * hugetlb: if /proc/sys/vm/nr_hugepages has too few free pages the bench
 * raises it (root) and restores it at exit; a variant that gets no pages
 * writes a "skipped: ..." row (n = 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "dune/cap.h"
#include "dune/dune.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define MAXREPS 15
#define MAXSIZES 4

/* ---- HPCC RandomAccess (the reference implementation's loop) -------------- */
#define POLY 0x0000000000000007ull
#define PERIOD 1317624576693539401ll
#define NSTREAM 128

/* The n-th element of the LFSR sequence (HPCC_starts). */
static uint64_t hpcc_starts(int64_t n)
{
	uint64_t m2[64], temp, ran;
	int i, j;
	while (n < 0)
		n += PERIOD;
	while (n > PERIOD)
		n -= PERIOD;
	if (n == 0)
		return 1;
	temp = 1;
	for (i = 0; i < 64; i++) {
		m2[i] = temp;
		temp = (temp << 1) ^ ((int64_t)temp < 0 ? POLY : 0);
		temp = (temp << 1) ^ ((int64_t)temp < 0 ? POLY : 0);
	}
	for (i = 62; i >= 0; i--)
		if ((n >> i) & 1)
			break;
	ran = 2;
	while (i > 0) {
		temp = 0;
		for (j = 0; j < 64; j++)
			if ((ran >> j) & 1)
				temp ^= m2[j];
		ran = temp;
		i -= 1;
		if ((n >> i) & 1)
			ran = (ran << 1) ^ ((int64_t)ran < 0 ? POLY : 0);
	}
	return ran;
}

static uint64_t starts[NSTREAM]; /* per pass: the same sequence */

static void init_starts(uint64_t nupdate)
{
	for (int j = 0; j < NSTREAM; j++)
		starts[j] = hpcc_starts((int64_t)(nupdate / NSTREAM * j));
}

/* One pass of nupdate updates. noinline: every side runs this code. */
__attribute__((noinline)) static void gups_pass(uint64_t *table,
						uint64_t words,
						uint64_t nupdate)
{
	uint64_t ran[NSTREAM];
	memcpy(ran, starts, sizeof(ran));
	for (uint64_t i = 0; i < nupdate / NSTREAM; i++)
		for (int j = 0; j < NSTREAM; j++) {
			ran[j] = (ran[j] << 1) ^
				 ((int64_t)ran[j] < 0 ? POLY : 0);
			table[ran[j] & (words - 1)] ^= ran[j];
		}
}

/* The same address sequence, reads only: warms the TLB and caches in the
 * state of the update loop without changing the table. */
__attribute__((noinline)) static uint64_t warm_pass(const uint64_t *table,
						    uint64_t words,
						    uint64_t nupdate)
{
	uint64_t ran[NSTREAM], sum = 0;
	memcpy(ran, starts, sizeof(ran));
	for (uint64_t i = 0; i < nupdate / NSTREAM; i++)
		for (int j = 0; j < NSTREAM; j++) {
			ran[j] = (ran[j] << 1) ^
				 ((int64_t)ran[j] < 0 ? POLY : 0);
			sum += table[ran[j] & (words - 1)];
		}
	return sum;
}

/* The first touch: table[i] = i. */
__attribute__((noinline)) static void init_table(uint64_t *t, uint64_t words)
{
	for (uint64_t i = 0; i < words; i++)
		t[i] = i;
}

static uint64_t count_errors(const uint64_t *t, uint64_t words)
{
	uint64_t e = 0;
	for (uint64_t i = 0; i < words; i++)
		e += t[i] != i;
	return e;
}

/* ---- variants ---------------------------------------------------------------- */
enum var {
	V_N4K, V_NTHP, V_NHTLB, /* native, in the parent */
	V_DPLAIN,		/* dune, default address space */
	V_C4K_4K, V_C4K_THP, V_C4K_HTLB,
	V_C2M_4K, V_C2M_THP, V_C2M_HTLB,
	V_C1G,			/* 1 GiB guest pages over hugetlb */
	NVARS
};
static const char *const var_name[NVARS] = {
    "native_4k", "native_thp", "native_htlb", "dune_plain",
    "cap4k_4k", "cap4k_thp", "cap4k_htlb",
    "cap2m_4k", "cap2m_thp", "cap2m_htlb", "cap1g"};
static const char *const var_what[NVARS] = {
    "Linux 4 KiB pages (MADV_NOHUGEPAGE)",
    "Linux THP (MADV_HUGEPAGE)",
    "Linux hugetlb 2 MiB (MAP_HUGETLB)",
    "dune default address space: mmap inside the guest; 4 KiB guest pages "
    "mirroring the host's 4 KiB pages",
    "cap memory: 4 KiB guest pages (2 MiB FRAME per PT vnode) over host "
    "4 KiB pages",
    "cap memory: 4 KiB guest pages (2 MiB FRAME per PT vnode) over host THP",
    "cap memory: 4 KiB guest pages (2 MiB FRAME per PT vnode) over host "
    "hugetlb 2 MiB",
    "cap memory: 2 MiB guest pages (FRAME in PD entries) over host 4 KiB "
    "pages",
    "cap memory: 2 MiB guest pages (FRAME in PD entries) over host THP",
    "cap memory: 2 MiB guest pages (FRAME in PD entries) over host hugetlb "
    "2 MiB",
    "cap memory: 1 GiB guest pages (FRAME in a PDPT entry) over host "
    "hugetlb 2 MiB"};
static int is_native(int v)
{
	return v <= V_NHTLB;
}
static int host_pages_of(int v)
{
	switch (v) {
	case V_NTHP: case V_C4K_THP: case V_C2M_THP:
		return DUNE_HOST_PAGES_THP;
	case V_NHTLB: case V_C4K_HTLB: case V_C2M_HTLB: case V_C1G:
		return DUNE_HOST_PAGES_HUGETLB;
	default:
		return DUNE_HOST_PAGES_4K;
	}
}

/* Actions sent to the guest child (op = action << 8 | variant). */
enum act { A_SETUP, A_WARM, A_RUN, A_VERIFY, A_HUGE, A_TEARDOWN };

/* One table, on either side. */
struct table {
	uint64_t *t;	   /* where the updates go */
	uint64_t bytes, words;
	int passes;	   /* update passes done (parity for verify) */
	/* native/plain mapping */
	void *map;
	size_t maplen;
	/* caps */
	int ram, vram, frame0, nframes, pt0, npt, pd0, npd, pdpt;
	void *resv;
	size_t resvlen;
	uint64_t map_ns, touch_ns; /* setup: mapping, first touch */
	struct bench_counts map_d, touch_d;
	int skip;		   /* errno the setup failed with */
};

static struct table tab[NVARS];
static uint64_t g_bytes, g_updates;

/* kB of AnonHugePages (THP) or Private_Hugetlb of the smaps entries that
 * overlap [a, a+len). Works inside the guest too (forwarded reads). */
static uint64_t smaps_huge_kb(const void *a, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return 0;
	char line[512];
	uintptr_t lo = (uintptr_t)a, hi = lo + len;
	int in = 0;
	uint64_t kb = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		unsigned long long v;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = s < hi && e > lo;
			continue;
		}
		if (in && (sscanf(line, "AnonHugePages: %llu kB", &v) == 1 ||
			   sscanf(line, "Private_Hugetlb: %llu kB", &v) == 1))
			kb += v;
	}
	fclose(f);
	return kb;
}

/* An anonymous mapping of len bytes aligned to align (trimmed). */
static void *map_aligned(size_t len, size_t align, int extra)
{
	if (extra & MAP_HUGETLB) /* hugetlb mappings come aligned */
		return mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
	char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
	if (raw == MAP_FAILED)
		return raw;
	char *p = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	munmap(p + len, (size_t)(raw + align - p));
	return p;
}

/* Native and dune-plain setup: map (and advise), then the first touch. */
static int setup_mmap(struct table *tb, int v)
{
	int extra = v == V_NHTLB ? MAP_HUGETLB | MAP_HUGE_2MB : 0;
	uint64_t t0 = bench_now_ns();
	void *p = map_aligned(tb->bytes, 2 * MiB, extra);
	if (p == MAP_FAILED)
		return -errno;
	if (v == V_N4K)
		madvise(p, tb->bytes, MADV_NOHUGEPAGE);
	else if (v == V_NTHP)
		madvise(p, tb->bytes, MADV_HUGEPAGE);
	tb->map = p;
	tb->maplen = tb->bytes;
	tb->t = p;
	tb->map_ns = bench_now_ns() - t0;
	return 0;
}

/* ---- capability tables (in the guest child) ----------------------------------- */
#define CK(x)                                                                  \
	do {                                                                   \
		long r_ = (long)(x);                                           \
		if (r_ < 0) {                                                  \
			fprintf(stderr, "bench_gups: %s: %s (line %d)\n", #x,  \
				strerror((int)-r_), __LINE__);                 \
			return (int)r_;                                        \
		}                                                              \
	} while (0)

static int slots(unsigned n)
{
	return dune_cap_free_slots(n);
}

#define PTEF (DUNE_PTE_W | DUNE_PTE_U)

static int setup_cap(struct table *tb, int v)
{
	int big = v >= V_C2M_4K && v <= V_C2M_HTLB, giant = v == V_C1G;
	uint64_t bytes = tb->bytes;
	uint64_t span = (bytes + GiB - 1) & ~(GiB - 1); /* PD granules */
	tb->ram = tb->vram = tb->frame0 = tb->pt0 = tb->pd0 = tb->pdpt = -1;
	if (giant) {
		struct dune_host_info hi;
		if (dune_host_info(&hi) == 0 && !hi.gbpages)
			return -ENOTSUP;
		if (bytes < GiB)
			return -EDOM; /* table smaller than one page */
	}
	int hp = host_pages_of(v);
	int r = dune_cap_ram_alloc(bytes, giant ? GiB : 2 * MiB, -1, hp);
	if (r < 0)
		return r;
	tb->ram = r;
	tb->npd = (int)(span / GiB);
	tb->npt = big || giant ? 0 : (int)(bytes / (2 * MiB));
	unsigned nv = (unsigned)(tb->npt + tb->npd + 1);
	CK(tb->vram = dune_cap_ram_alloc(nv * 4 * KiB, 0, -1,
					 DUNE_HOST_PAGES_4K));
	uint64_t voff = 0;
	if (giant) {
		CK(tb->pdpt = slots(1));
		CK(dune_cap_retype(tb->vram, DUNE_CAP_VNODE_PDPT, voff, 4 * KiB,
				   1, tb->pdpt));
		voff += 4 * KiB;
		CK(tb->frame0 = slots(1));
		tb->nframes = 1;
		CK(dune_cap_retype(tb->ram, DUNE_CAP_FRAME, 0, bytes, 1,
				   tb->frame0));
		r = dune_cap_install(tb->pdpt, 0, tb->frame0,
				     PTEF | DUNE_PTE_NX, 0,
				     (unsigned)(bytes / GiB));
		if (r < 0)
			return r; /* -ENOTSUP: the CPU has no 1 GiB pages */
		/* A PDPT spans 512 GiB: graft it at a range aligned so. */
		tb->resvlen = 512 * GiB;
		tb->resv = dune_cap_reserve(tb->resvlen, 512 * GiB);
		if (!tb->resv)
			return -ENOMEM;
		CK(dune_cap_graft(NULL, tb->resv, tb->pdpt));
		tb->t = tb->resv;
		return 0;
	}
	CK(tb->pd0 = slots((unsigned)tb->npd));
	CK(dune_cap_retype(tb->vram, DUNE_CAP_VNODE_PD, voff, 4 * KiB,
			   (unsigned)tb->npd, tb->pd0));
	voff += (uint64_t)tb->npd * 4 * KiB;
	if (big) {
		CK(tb->frame0 = slots(1));
		tb->nframes = 1;
		CK(dune_cap_retype(tb->ram, DUNE_CAP_FRAME, 0, bytes, 1,
				   tb->frame0));
		for (int k = 0; k < tb->npd; k++) {
			uint64_t off = (uint64_t)k * GiB;
			uint64_t n = (bytes - off) / (2 * MiB);
			CK(dune_cap_install(tb->pd0 + k, 0, tb->frame0,
					    PTEF | DUNE_PTE_NX, off,
					    (unsigned)(n > 512 ? 512 : n)));
		}
	} else {
		tb->nframes = tb->npt;
		CK(tb->frame0 = slots((unsigned)tb->nframes));
		CK(dune_cap_retype(tb->ram, DUNE_CAP_FRAME, 0, 2 * MiB,
				   (unsigned)tb->nframes, tb->frame0));
		CK(tb->pt0 = slots((unsigned)tb->npt));
		CK(dune_cap_retype(tb->vram, DUNE_CAP_VNODE_PT, voff, 4 * KiB,
				   (unsigned)tb->npt, tb->pt0));
		for (int i = 0; i < tb->npt; i++) {
			CK(dune_cap_install(tb->pt0 + i, 0, tb->frame0 + i,
					    PTEF | DUNE_PTE_NX, 0, 512));
			CK(dune_cap_install(tb->pd0 + i / 512, i % 512,
					    tb->pt0 + i, PTEF, 0, 1));
		}
	}
	tb->resvlen = span;
	tb->resv = dune_cap_reserve(span, GiB);
	if (!tb->resv)
		return -ENOMEM;
	for (int k = 0; k < tb->npd; k++)
		CK(dune_cap_graft(NULL, (char *)tb->resv + (uint64_t)k * GiB,
				  tb->pd0 + k));
	tb->t = tb->resv;
	return 0;
}

static void teardown(struct table *tb, int v)
{
	if (is_native(v) || v == V_DPLAIN) {
		if (tb->map)
			munmap(tb->map, tb->maplen);
	} else {
		if (tb->resv)
			dune_cap_unreserve(tb->resv, tb->resvlen);
		/* Children first: revoke clears their entries too. */
		if (tb->ram >= 0) {
			dune_cap_revoke(tb->ram);
			dune_cap_delete(tb->ram);
		}
		if (tb->vram >= 0) {
			dune_cap_revoke(tb->vram);
			dune_cap_delete(tb->vram);
		}
	}
	memset(tb, 0, sizeof(*tb));
}

/* Setup of variant v on this side: mapping, then first touch. */
static int setup(int v)
{
	struct table *tb = &tab[v];
	struct bench_counts a, b, c;
	memset(tb, 0, sizeof(*tb));
	tb->bytes = g_bytes;
	tb->words = g_bytes / 8;
	bench_counts_read(&a);
	uint64_t t0 = bench_now_ns();
	int r = is_native(v) || v == V_DPLAIN ? setup_mmap(tb, v)
					      : setup_cap(tb, v);
	uint64_t t1 = bench_now_ns();
	bench_counts_read(&b);
	if (r < 0) {
		teardown(tb, v);
		tb->skip = -r;
		return r;
	}
	tb->map_ns = t1 - t0;
	init_table(tb->t, tb->words);
	tb->touch_ns = bench_now_ns() - t1;
	bench_counts_read(&c);
	bench_counts_sub(&tb->map_d, &b, &a);
	bench_counts_sub(&tb->touch_d, &c, &b);
	return 0;
}

/* One action on this side; fills ns, result, counts. */
static int act(int v, int a, struct bench_msg *m)
{
	struct table *tb = &tab[v];
	struct bench_counts c0, c1;
	int r = 0;
	m->result = 0;
	bench_counts_read(&c0);
	uint64_t t0 = bench_now_ns();
	switch (a) {
	case A_SETUP:
		g_bytes = m->iters;
		r = setup(v);
		m->ns = tb->map_ns;
		m->result = tb->touch_ns;
		m->d = tb->touch_d;
		/* the mapping's counts go in the monitor_ns slot's place:
		 * exits of the mapping step */
		m->d.monitor_ns = tb->map_d.exits;
		return r;
	case A_WARM:
		m->result = warm_pass(tb->t, tb->words, g_updates / 4);
		break;
	case A_RUN:
		gups_pass(tb->t, tb->words, g_updates);
		tb->passes++;
		break;
	case A_VERIFY:
		if (tb->passes % 2)
			gups_pass(tb->t, tb->words, g_updates);
		tb->passes = 0;
		m->result = count_errors(tb->t, tb->words);
		break;
	case A_HUGE:
		m->result = smaps_huge_kb(tb->map ? tb->map : (void *)tb->t,
					  tb->bytes);
		if (!is_native(v) && v != V_DPLAIN) {
			/* The host memory of a grant is at its guest-physical
			 * address (dune/abi.h). */
			struct dune_cap_info ci;
			if (dune_cap_identify(tb->ram, &ci) == 0)
				m->result = smaps_huge_kb(
				    (void *)(uintptr_t)ci.base, ci.size);
		}
		break;
	case A_TEARDOWN:
		teardown(tb, v);
		break;
	}
	m->ns = bench_now_ns() - t0;
	bench_counts_read(&c1);
	bench_counts_sub(&m->d, &c1, &c0);
	return r;
}

static void serve(struct bench_msg *m)
{
	int v = m->op & 0xff, a = m->op >> 8;
	if (a == A_SETUP) {
		g_updates = m->result; /* carried in the request */
		init_starts(g_updates);
	}
	int r = act(v, a, m);
	m->err = r < 0 ? -r : 0;
}

/* ---- hugetlb pool (parent) ------------------------------------------------- */
static long hp_saved = -1;

static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static int write_nr_hugepages(long n)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "we");
	if (!f)
		return -errno;
	int r = fprintf(f, "%ld\n", n) < 0;
	r |= fclose(f) != 0;
	return r ? -EIO : 0;
}

static void hp_restore(void)
{
	if (hp_saved >= 0) {
		write_nr_hugepages(hp_saved);
		hp_saved = -1;
	}
}

static void on_signal(int sig)
{
	hp_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Make sure `pages` 2 MiB pages are free in the pool. Returns a note. */
static const char *hp_ensure(long pages)
{
	static char note[200];
	long total = meminfo("HugePages_Total"), fr = meminfo("HugePages_Free");
	if (total < 0 || fr < 0)
		return "skipped: no hugetlb support (/proc/meminfo)";
	if (fr >= pages)
		return NULL;
	if (hp_saved < 0)
		hp_saved = total;
	int r = write_nr_hugepages(total + pages - fr);
	fr = meminfo("HugePages_Free");
	if (fr >= pages)
		return NULL;
	snprintf(note, sizeof(note), "skipped: only %ld free hugetlb 2 MiB "
		 "pages of %ld needed (raising /proc/sys/vm/nr_hugepages: %s)",
		 fr, pages, r ? strerror(-r) : "the kernel gave fewer");
	return note;
}

/* ---- driver ------------------------------------------------------------------- */
static double ns_upd[NVARS][MAXREPS];
static struct bench_counts run_d[NVARS];
static uint64_t setup_map_ns[NVARS], setup_touch_ns[NVARS];
static uint64_t setup_map_exits[NVARS], setup_touch_exits[NVARS];
static uint64_t huge_kb[NVARS], errors[NVARS];
static int have[NVARS];
static char skipnote[NVARS][240];

static int call(struct bench_guest *g, int v, int a, uint64_t iters,
		struct bench_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->op = a << 8 | v;
	m->iters = iters;
	m->result = g_updates;
	return bench_guest_call(g, m);
}

/* Action a on variant v, wherever it lives. -errno of a failure. */
static int do_act(struct bench_guest *g, int v, int a, struct bench_msg *m)
{
	if (!is_native(v))
		return call(g, v, a, g_bytes, m);
	memset(m, 0, sizeof(*m));
	m->iters = g_bytes;
	return act(v, a, m);
}

static const char *skip_reason(int v, int err)
{
	static char buf[200];
	if (err == ENOTSUP && v == V_C1G)
		return "skipped: CPU (CPUID) has no 1 GiB pages";
	if (err == EDOM)
		return "skipped: table smaller than one 1 GiB page";
	if (err == ENOMEM && host_pages_of(v) == DUNE_HOST_PAGES_HUGETLB)
		return "skipped: no free hugetlb 2 MiB pages on the host";
	snprintf(buf, sizeof(buf), "skipped: setup failed: %s",
		 strerror(err));
	return buf;
}

static void rows(uint64_t mb, int reps)
{
	static const char *const what[3] = {"rate", "update", "setup"};
	char bname[3][32];
	for (int k = 0; k < 3; k++)
		snprintf(bname[k], sizeof(bname[k]), "gups%llu%s_%s",
			 (unsigned long long)(mb % 1024 ? mb : mb / 1024),
			 mb % 1024 ? "M" : "G", what[k]);
	for (int k = 0; k < 3; k++)
		for (int v = 0; v < NVARS; v++) {
			const char *unit = k == 0 ? "GUP/s" : k == 1 ? "ns" : "ms";
			struct bench_row row = bench_row_init(bname[k],
							      var_name[v], unit);
			char note[4096], goal[120] = "";
			if (!have[v]) {
				snprintf(note, sizeof(note), "%s; %s",
					 skipnote[v], var_what[v]);
				row.note = note;
				bench_csv_row(stdout, &row);
				continue;
			}
			double s[MAXREPS], ratio[MAXREPS];
			for (int i = 0; i < reps; i++) {
				s[i] = k == 0 ? 1.0 / ns_upd[v][i]
					      : ns_upd[v][i];
				ratio[i] = ns_upd[v][i] / ns_upd[V_N4K][i];
			}
			double upd = (double)g_updates * reps;
			if (k < 2) {
				bench_summarize(s, reps, &row.s);
				if (k == 1 && have[V_N4K])
					row.ratio = bench_median(ratio, reps);
				if (!is_native(v)) {
					row.exits_per_op = run_d[v].exits / upd;
					row.syscalls_per_op =
					    run_d[v].syscalls / upd;
					row.faults_per_op = run_d[v].faults / upd;
				}
			} else {
				double ms = (setup_map_ns[v] +
					     setup_touch_ns[v]) / 1e6;
				row.s = (struct bench_summary){1, ms, ms, ms,
							       ms, ms};
				if (!is_native(v))
					row.exits_per_op =
					    (double)(setup_map_exits[v] +
						     setup_touch_exits[v]);
			}
			if (k == 1) {
				snprintf(goal, sizeof(goal),
					 "0 verification errors: %s (%llu)",
					 errors[v] ? "NOT met" : "met",
					 (unsigned long long)errors[v]);
				row.goal = goal;
			}
			double hp = 100.0 * (double)huge_kb[v] * KiB /
				    (double)g_bytes;
			if (k == 0)
				snprintf(note, sizeof(note),
					 "giga-updates per second (1/ns per "
					 "update); %s; %llu MiB table; %llu "
					 "updates per pass; %d passes; host "
					 "huge pages under the table: %.0f%%",
					 var_what[v], (unsigned long long)mb,
					 (unsigned long long)g_updates, reps, hp);
			else if (k == 1)
				snprintf(note, sizeof(note),
					 "ns per update (HPCC loop; 128 "
					 "LFSR streams); ratio: per-pass time "
					 "over native_4k's in the same round; "
					 "%s", var_what[v]);
			else
				snprintf(note, sizeof(note),
					 "setup of the table (one sample): "
					 "mapping %.2f ms (%llu exits) + "
					 "first touch table[i]=i %.2f ms "
					 "(%.0f ns per 4 KiB; %llu exits); "
					 "exits/op: the whole setup; %s",
					 setup_map_ns[v] / 1e6,
					 (unsigned long long)setup_map_exits[v],
					 setup_touch_ns[v] / 1e6,
					 setup_touch_ns[v] /
					     (double)(g_bytes / (4 * KiB)),
					 (unsigned long long)setup_touch_exits[v],
					 var_what[v]);
			row.note = note;
			bench_csv_row(stdout, &row);
		}
}

static int one_size(struct bench_guest *g, uint64_t mb, int reps)
{
	struct bench_msg m;
	g_bytes = mb * MiB;
	init_starts(g_updates);
	memset(run_d, 0, sizeof(run_d));
	memset(ns_upd, 0, sizeof(ns_upd));
	/* hugetlb pages for every hugetlb variant at once */
	long need = 0;
	for (int v = 0; v < NVARS; v++)
		if (host_pages_of(v) == DUNE_HOST_PAGES_HUGETLB && v != V_C1G)
			need += (long)(g_bytes / (2 * MiB));
	const char *hpnote = hp_ensure(need);
	for (int v = 0; v < NVARS; v++) {
		have[v] = 0;
		errors[v] = 0;
		if (hpnote && host_pages_of(v) == DUNE_HOST_PAGES_HUGETLB) {
			snprintf(skipnote[v], sizeof(skipnote[v]), "%s", hpnote);
			continue;
		}
		int r = do_act(g, v, A_SETUP, &m);
		if (r == -EPIPE || r == -ECONNRESET)
			return r;
		if (r) {
			snprintf(skipnote[v], sizeof(skipnote[v]), "%s",
				 skip_reason(v, -r));
			fprintf(stderr, "bench_gups: %s (%llu MiB): %s\n",
				var_name[v], (unsigned long long)mb,
				skipnote[v]);
			continue;
		}
		have[v] = 1;
		setup_map_ns[v] = m.ns;
		setup_touch_ns[v] = m.result;
		setup_map_exits[v] = m.d.monitor_ns;
		setup_touch_exits[v] = m.d.exits;
		if ((r = do_act(g, v, A_HUGE, &m)))
			return r;
		huge_kb[v] = m.result;
		if ((r = do_act(g, v, A_WARM, &m)))
			return r;
	}
	for (int i = 0; i < reps; i++)
		for (int k = 0; k < NVARS; k++) {
			int v = i % 2 ? NVARS - 1 - k : k;
			if (!have[v])
				continue;
			int r = do_act(g, v, A_RUN, &m);
			if (r)
				return r;
			ns_upd[v][i] = (double)m.ns / (double)g_updates;
			run_d[v].exits += m.d.exits;
			run_d[v].syscalls += m.d.syscalls;
			run_d[v].faults += m.d.faults;
		}
	for (int v = 0; v < NVARS; v++) {
		if (!have[v])
			continue;
		int r = do_act(g, v, A_VERIFY, &m);
		if (r)
			return r;
		errors[v] = m.result;
		if (errors[v])
			fprintf(stderr, "bench_gups: %s: %llu verification "
				"errors\n", var_name[v],
				(unsigned long long)errors[v]);
		do_act(g, v, A_TEARDOWN, &m);
	}
	rows(mb, reps);
	return 0;
}

static int parse_sizes(const char *s, uint64_t *mb, int *n)
{
	*n = 0;
	while (*s && *n < MAXSIZES) {
		char *e;
		unsigned long long x = strtoull(s, &e, 0);
		if (e == s || x < 4 || (x & (x - 1)))
			return -1;
		mb[(*n)++] = x;
		s = *e == ',' ? e + 1 : e;
		if (*e && *e != ',')
			return -1;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint64_t mb[MAXSIZES] = {1024};
	int nsizes = 1, reps = 5;
	g_updates = 1ull << 25;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--size-mb") && val) {
			if (parse_sizes(val, mb, &nsizes))
				goto usage;
		} else if (!strcmp(a, "--updates") && val) {
			g_updates = strtoull(val, NULL, 0);
			if (!g_updates || g_updates % NSTREAM)
				goto usage;
		} else if (!strcmp(a, "--reps") && val) {
			reps = atoi(val);
			if (reps < 1 || reps > MAXREPS)
				goto usage;
		} else
			goto usage;
		i++;
	}
	/* The vmm's RAM budget (read at the first grant, in the child):
	 * every cap table at once plus their vnodes. */
	uint64_t maxmb = 0;
	for (int i = 0; i < nsizes; i++)
		maxmb = mb[i] > maxmb ? mb[i] : maxmb;
	if (!getenv("DUNE_RAM_MAX_MB")) {
		char b[32];
		snprintf(b, sizeof(b), "%llu",
			 (unsigned long long)(8 * maxmb + 256));
		setenv("DUNE_RAM_MAX_MB", b, 1);
	}
	if (!getenv("DUNE_CAP_SLOTS"))
		setenv("DUNE_CAP_SLOTS", "16384", 1);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(hp_restore);
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	if (r) {
		fprintf(stderr, "bench_gups: %s\n", strerror(-r));
		return 1;
	}
	bench_csv_header(stdout);
	for (int i = 0; i < nsizes && !r; i++)
		r = one_size(&g, mb[i], reps);
	bench_guest_stop(&g);
	hp_restore();
	if (r) {
		fprintf(stderr, "bench_gups: %s\n", strerror(-r));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_gups [--size-mb N[,N...]] [--updates "
		"N] [--reps R]\n");
	return 2;
}
