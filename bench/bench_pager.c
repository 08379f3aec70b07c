/* bench/bench_pager.c: the self-paging library (dune/vspace.h) as a
 * user-level pager against the Linux path for one (userfaultfd), and the
 * cost and effect of page-table replication (VSPACE_REPLICATE).
 *
 *   bench_pager [pager] [replica] [--region-mb N] [--budget-mb N]
 *               [--rand N] [--reps R] [--no-2m] [--ft-mb N] [--rr-mb N]
 *               [--reads N]
 *
 * pager: a region of --region-mb (64) with a frame budget of --budget-mb
 * (8), four timed passes per repetition over a fresh region: sequential
 * write, sequential read, --rand (4096) random reads, --rand random
 * read-modify-writes (the same page sequence on both sides), then an
 * untimed sequential verification. Every 8-byte word of page p holds
 * word_of(p, w, gen[p]), gen[p] counting the page's writes; every read
 * checks the whole page.
 *   dune_4k, dune_2m: a forked guest child (DUNE_MODE_AUTO: ring 3 here)
 *     with a vspace region (VS_ANON, the budget; VS_PAGE_2M for dune_2m):
 *     the library's clock over A bits, dirty-only write-back to its swap
 *     file.
 *   uffd: the parent, an anonymous MAP_NORESERVE region registered with
 *     UFFDIO_REGISTER_MODE_MISSING | MODE_WP on a UFFD_FEATURE_WP_ASYNC
 *     userfaultfd, served by a handler thread pinned to the faulting
 *     thread's CPU. At the budget it evicts FIFO (no accessed bits reach
 *     user space cheaply), asks PAGEMAP_SCAN (PAGE_IS_WRITTEN) whether
 *     the victim was written since it came in and pwrite()s it to an
 *     O_TMPFILE swap file only then, MADV_DONTNEEDs it, then serves the
 *     fault: pread from swap + UFFDIO_COPY (write-protected when the fault
 *     was a read, so the kernel tracks a later write), or a zero fill
 *     (UFFDIO_ZEROPAGE for a read; UFFDIO_COPY of a zero page for a write,
 *     which saves the copy-on-write fault right after).
 *
 * replica: DUNE_NUMA_NODES=2 in the child's environment; per repetition
 * with no replication and with VSPACE_REPLICATE:
 *   ft_*: first-touch demand-zero faults (no budget) over --ft-mb (16) of
 *     4 KiB pages, one write per page;
 *   rr_*: a dependent random-read chain (each load's value picks the next
 *     word) over --rr-mb (256) of 4 KiB pages (a VS_FRAME region over one
 *     frame cap from node 0, so the data is the same everywhere), from the
 *     process's own root and from the thread bound (vspace_bind) to node 0
 *     and node 1's replica. Each root is warmed first (a touch of every
 *     page: on this software KVM every root has its own shadow table).
 *
 * CSV rows: see docs/benchmarks.md, "Self-paging: pager throughput and
 * replication". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "dune/cap.h"
#include "dune/dune.h"
#include "dune/vspace.h"
#include "linuxmm.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#define KiB 1024ull
#define MiB ((size_t)1024 * 1024)
#define PG ((size_t)4096)
#define WPP (PG / 8) /* words per 4 KiB page */
#define MAXREPS 15

/* ---- options ----------------------------------------------------------------- */
static size_t o_region_mb = 64, o_budget_mb = 8, o_rand = 4096;
static size_t o_ft_mb = 16, o_rr_mb = 256, o_reads = 1u << 21;
static int o_reps = 3, o_2m = 1;

/* ---- the passes (both sides run this code) ------------------------------------- */
enum { P_SEQ_WRITE, P_SEQ_READ, P_RAND_READ, P_RAND_RMW, NPASS };
static const char *const pass_name[NPASS] = {
    "pager_seq_write", "pager_seq_read", "pager_rand_read", "pager_rand_rmw"};

static inline uint64_t word_of(uint64_t page, uint64_t w, uint8_t gen)
{
	return (page * 0x9e3779b97f4a7c15ull) ^ (w << 8) ^ gen;
}

struct mem {
	uint64_t *base;
	size_t pages;
	uint8_t *gen; /* writes per page so far */
	long bad;     /* pages that did not hold what they should */
};

static void write_page(struct mem *m, size_t p)
{
	uint64_t *q = m->base + p * WPP;
	uint8_t g = ++m->gen[p];
	for (size_t w = 0; w < WPP; w++)
		q[w] = word_of(p, w, g);
}

static void check_page(struct mem *m, size_t p)
{
	const uint64_t *q = m->base + p * WPP;
	uint8_t g = m->gen[p];
	for (size_t w = 0; w < WPP; w++)
		if (q[w] != word_of(p, w, g)) {
			if (m->bad++ < 3)
				fprintf(stderr, "bench_pager: page %zu word %zu:"
					" %#llx, want %#llx\n", p, w,
					(unsigned long long)q[w],
					(unsigned long long)word_of(p, w, g));
			return;
		}
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Pages touched by the pass. The random passes' page sequence depends on
 * the repetition and the pass only. */
static size_t run_pass(struct mem *m, int pass, int rep)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(rep * 8 + pass + 1);
	switch (pass) {
	case P_SEQ_WRITE:
		for (size_t p = 0; p < m->pages; p++)
			write_page(m, p);
		return m->pages;
	case P_SEQ_READ:
		for (size_t p = 0; p < m->pages; p++)
			check_page(m, p);
		return m->pages;
	case P_RAND_READ:
		for (size_t k = 0; k < o_rand; k++)
			check_page(m, xorshift(&s) % m->pages);
		return o_rand;
	default:
		for (size_t k = 0; k < o_rand; k++) {
			size_t p = xorshift(&s) % m->pages;
			check_page(m, p);
			write_page(m, p);
		}
		return o_rand;
	}
}

static void verify_all(struct mem *m)
{
	for (size_t p = 0; p < m->pages; p++)
		check_page(m, p);
}

/* Per pass of one repetition: time, pages touched, the pager's counters. */
enum { S_FAULTS, S_EVICT, S_WB, S_SWAPIN, S_ZERO, NSTAT };
struct passres {
	double ns, touched;
	double st[NSTAT];
	struct bench_counts d; /* dune only */
	double handler_syscalls; /* uffd only */
	long bad;
};

/* ---- the guest child ------------------------------------------------------------ */
enum {
	OP_P_BEGIN,  /* iters: 1 = VS_PAGE_2M */
	OP_P_PASS,   /* iters: pass | rep << 8 */
	OP_P_STAT,   /* iters: S_*: of the last pass */
	OP_P_VERIFY, /* result: bad pages (all passes and the verification) */
	OP_P_END,
	OP_R_BEGIN,  /* iters: vspace_create flags */
	OP_R_FT,     /* first-touch faults; iters 1: with a budget */
	OP_R_MAP,    /* the VS_FRAME region, filled */
	OP_R_READ,   /* iters: root (node, or 0xff: the process's) */
	OP_R_END,
};

static struct {
	struct vspace *vs;
	struct vs_region *r;
	struct mem m;
	struct vs_stats last, delta;
	int ram, frame;
	uint64_t *rr;
	size_t rr_words;
} C = {.ram = -1, .frame = -1};

static uint64_t st_field(const struct vs_stats *s, int f)
{
	switch (f) {
	case S_FAULTS: return s->faults;
	case S_EVICT: return s->evictions;
	case S_WB: return s->writebacks;
	case S_SWAPIN: return s->swapins;
	default: return s->zero_fills;
	}
}

static int p_begin(int twom)
{
	int r;
	if (!C.vs && (r = vspace_create(0, &C.vs)))
		return r;
	struct vs_region_attr a = {.flags = VS_R | VS_W | (twom ? VS_PAGE_2M : 0),
				   .node = VS_NODE_LOCAL,
				   .budget = o_budget_mb * MiB};
	if ((r = vspace_region_create(C.vs, NULL, o_region_mb * MiB, &a,
				      &C.r)))
		return r;
	C.m.base = vs_region_start(C.r);
	C.m.pages = o_region_mb * MiB / PG;
	C.m.bad = 0;
	free(C.m.gen);
	C.m.gen = calloc(C.m.pages, 1);
	if (!C.m.gen)
		return -ENOMEM;
	vs_region_stats(C.r, &C.last);
	return 0;
}

/* Chain step of the random reads: the next word index. */
static inline uint64_t rr_val(uint64_t i)
{
	uint64_t x = (i + 1) * 0xd6e8feb86659fd93ull;
	return x ^ (x >> 29);
}

static uint64_t rr_chain(const volatile uint64_t *t, uint64_t mask,
			 uint64_t n)
{
	uint64_t i = 12345 & mask, sum = 0;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t v = t ? t[i] : rr_val(i);
		sum += v;
		i = (v ^ (k * 0x9e3779b97f4a7c15ull)) & mask;
	}
	return sum;
}

static int r_map(void)
{
	size_t len = o_rr_mb * MiB;
	int r = dune_cap_ram_alloc(len, 2 * MiB, 0, DUNE_HOST_PAGES_4K);
	if (r < 0)
		return r;
	C.ram = r;
	if ((r = dune_cap_free_slots(1)) < 0)
		return r;
	C.frame = r;
	if ((r = dune_cap_retype(C.ram, DUNE_CAP_FRAME, 0, len, 1, C.frame)))
		return r;
	struct vs_region_attr a = {.flags = VS_R | VS_W, .node = 0,
				   .backing = VS_FRAME, .frame = C.frame};
	if ((r = vspace_region_create(C.vs, NULL, len, &a, &C.r)))
		return r;
	C.rr = vs_region_start(C.r);
	C.rr_words = len / 8;
	for (size_t i = 0; i < C.rr_words; i++)
		C.rr[i] = rr_val(i);
	return 0;
}

static void serve(struct bench_msg *m)
{
	struct bench_counts a, b;
	int r = 0;
	uint64_t t0;
	switch (m->op) {
	case OP_P_BEGIN:
		r = p_begin((int)m->iters);
		break;
	case OP_P_PASS:
		bench_counts_read(&a);
		t0 = bench_now_ns();
		m->result = run_pass(&C.m, (int)(m->iters & 0xff),
				     (int)(m->iters >> 8));
		m->ns = bench_now_ns() - t0;
		bench_counts_read(&b);
		bench_counts_sub(&m->d, &b, &a);
		struct vs_stats s;
		vs_region_stats(C.r, &s);
		for (int f = 0; f < NSTAT; f++) {
			uint64_t v = st_field(&s, f) - st_field(&C.last, f);
			switch (f) { /* keep the delta in C.delta */
			case S_FAULTS: C.delta.faults = v; break;
			case S_EVICT: C.delta.evictions = v; break;
			case S_WB: C.delta.writebacks = v; break;
			case S_SWAPIN: C.delta.swapins = v; break;
			default: C.delta.zero_fills = v; break;
			}
		}
		C.last = s;
		break;
	case OP_P_STAT:
		m->result = st_field(&C.delta, (int)m->iters);
		break;
	case OP_P_VERIFY:
		verify_all(&C.m);
		m->result = (uint64_t)C.m.bad;
		break;
	case OP_P_END:
	case OP_R_END:
		if (C.r)
			r = vspace_region_destroy(C.r);
		C.r = NULL;
		if (m->op == OP_R_END) {
			if (C.frame >= 0)
				dune_cap_delete(C.frame);
			if (C.ram >= 0)
				dune_cap_delete(C.ram);
			C.frame = C.ram = -1;
			if (C.vs && !r)
				r = vspace_destroy(C.vs);
			C.vs = NULL;
		}
		break;
	case OP_R_BEGIN:
		r = vspace_create((unsigned)m->iters, &C.vs);
		m->result = r ? 0 : (uint64_t)vspace_nreplicas(C.vs);
		break;
	case OP_R_FT: {
		size_t len = o_ft_mb * MiB;
		struct vs_region_attr at = {.flags = VS_R | VS_W,
					    .node = VS_NODE_LOCAL,
					    .budget = m->iters ? len / 8 : 0};
		if ((r = vspace_region_create(C.vs, NULL, len, &at, &C.r)))
			break;
		volatile uint64_t *p = vs_region_start(C.r);
		bench_counts_read(&a);
		t0 = bench_now_ns();
		for (size_t o = 0; o < len / 8; o += WPP)
			p[o] = o;
		m->ns = bench_now_ns() - t0;
		bench_counts_read(&b);
		bench_counts_sub(&m->d, &b, &a);
		struct vs_stats st;
		vs_region_stats(C.r, &st); /* of the timed loop */
		m->result = st.faults;
		for (size_t o = 0; o < len / 8; o += WPP)
			if (p[o] != o)
				r = -EPROTO;
		int r2 = vspace_region_destroy(C.r);
		C.r = NULL;
		if (!r)
			r = r2;
		break;
	}
	case OP_R_MAP:
		t0 = bench_now_ns();
		r = r_map();
		m->ns = bench_now_ns() - t0;
		break;
	case OP_R_READ: {
		int node = m->iters == 0xff ? -1 : (int)m->iters;
		if (node >= 0 && (r = vspace_bind(C.vs, node)))
			break;
		volatile uint64_t *t = C.rr;
		uint64_t x = 0;
		for (size_t i = 0; i < C.rr_words; i += WPP)
			x += t[i]; /* warm this root's (shadow) tables */
		(void)x;
		rr_chain(t, C.rr_words - 1, o_reads / 8);
		bench_counts_read(&a);
		t0 = bench_now_ns();
		m->result = rr_chain(t, C.rr_words - 1, o_reads);
		m->ns = bench_now_ns() - t0;
		bench_counts_read(&b);
		bench_counts_sub(&m->d, &b, &a);
		if (node >= 0)
			vspace_bind(C.vs, -1);
		break;
	}
	default:
		r = -EINVAL;
	}
	if (r)
		m->err = -r;
}

static int call(struct bench_guest *g, int op, uint64_t iters,
		struct bench_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->op = op;
	m->iters = iters;
	return bench_guest_call(g, m);
}

/* One dune repetition: 4 passes, verification, the region destroyed. */
static int dune_rep(struct bench_guest *g, int twom, int rep,
		    struct passres *out)
{
	struct bench_msg m;
	int r = call(g, OP_P_BEGIN, (uint64_t)twom, &m);
	for (int p = 0; p < NPASS && !r; p++) {
		if ((r = call(g, OP_P_PASS, (uint64_t)(p | rep << 8), &m)))
			break;
		out[p].ns = (double)m.ns;
		out[p].touched = (double)m.result;
		out[p].d = m.d;
		for (int f = 0; f < NSTAT && !r; f++) {
			struct bench_msg s;
			r = call(g, OP_P_STAT, (uint64_t)f, &s);
			out[p].st[f] = (double)s.result;
		}
	}
	if (!r && !(r = call(g, OP_P_VERIFY, 0, &m)))
		out[0].bad = (long)m.result;
	int r2 = call(g, OP_P_END, 0, &m);
	return r ? r : r2;
}

/* ---- userfaultfd pager (parent) ------------------------------------------------ */
static struct {
	int uffd, swapfd, wp; /* wp: WP_ASYNC dirty tracking */
	char *base;
	size_t pages, budget;
	uint32_t *fifo; /* resident pages, oldest first (ring) */
	size_t head, n;
	uint8_t *inswap;
	char *buf, *zero;
	uint64_t st[NSTAT], syscalls;
	pthread_t th;
} U;

static int swap_open(void)
{
	const char *d = getenv("DUNE_SWAP_DIR");
	if (!d)
		d = getenv("TMPDIR");
	const char *dirs[] = {d, "/var/tmp", "/tmp"};
	for (unsigned i = 0; i < 3; i++) {
		if (!dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
	}
	return -errno;
}

static int u_serve(uintptr_t addr, int write)
{
	size_t p = (addr - (uintptr_t)U.base) / PG;
	char *pa = U.base + p * PG;
	if (U.n == U.budget) {
		size_t v = U.fifo[U.head];
		char *va = U.base + v * PG;
		U.head = (U.head + 1) % U.budget;
		U.n--;
		int dirty = 1;
		if (U.wp) {
			uintptr_t o;
			long k = pagemap_scan_written(va, PG, &o, 1, 0);
			U.syscalls++;
			if (k < 0)
				return (int)k;
			dirty = k > 0;
		}
		if (dirty) {
			if (pwrite(U.swapfd, va, PG, (off_t)(v * PG)) != PG)
				return -EIO;
			U.syscalls++;
			U.st[S_WB]++;
			U.inswap[v] = 1;
		}
		if (madvise(va, PG, MADV_DONTNEED))
			return -errno;
		U.syscalls++;
		U.st[S_EVICT]++;
	}
	/* Book-keeping before the ioctl that wakes the faulting thread, so a
	 * pass's counters are complete when it ends. */
	U.fifo[(U.head + U.n) % U.budget] = (uint32_t)p;
	U.n++;
	U.st[S_FAULTS]++;
	U.syscalls++;
	int r;
	if (U.inswap[p]) {
		if (pread(U.swapfd, U.buf, PG, (off_t)(p * PG)) != PG)
			return -EIO;
		U.syscalls++;
		U.st[S_SWAPIN]++;
		struct uffdio_copy c = {
		    .dst = (uintptr_t)pa, .src = (uintptr_t)U.buf, .len = PG,
		    .mode = U.wp && !write ? UFFDIO_COPY_MODE_WP : 0};
		r = ioctl(U.uffd, UFFDIO_COPY, &c);
	} else if (write) {
		struct uffdio_copy c = {.dst = (uintptr_t)pa,
					.src = (uintptr_t)U.zero, .len = PG};
		U.st[S_ZERO]++;
		r = ioctl(U.uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = {.range = {(uintptr_t)pa, PG}};
		U.st[S_ZERO]++;
		r = ioctl(U.uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (r && errno != EEXIST)
		return -errno;
	return 0;
}

static void *u_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct uffd_msg msg;
		ssize_t n = read(U.uffd, &msg, sizeof(msg));
		U.syscalls++;
		if (n != sizeof(msg)) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			fprintf(stderr, "bench_pager: uffd read: %s\n",
				n < 0 ? strerror(errno) : "short");
			_exit(1);
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		int r = u_serve((uintptr_t)msg.arg.pagefault.address &
				~(PG - 1), !!(msg.arg.pagefault.flags &
					      UFFD_PAGEFAULT_FLAG_WRITE));
		if (r) {
			/* The faulting thread would wait forever: give up
			 * (the guest child sees EOF and exits). */
			fprintf(stderr, "bench_pager: uffd handler: %s\n",
				strerror(-r));
			_exit(1);
		}
	}
}

static int u_begin(void)
{
	size_t len = o_region_mb * MiB;
	U.pages = len / PG;
	U.budget = o_budget_mb * MiB / PG;
	U.head = U.n = 0;
	memset(U.st, 0, sizeof(U.st));
	U.syscalls = 0;
	U.base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (U.base == MAP_FAILED)
		return -errno;
	madvise(U.base, len, MADV_NOHUGEPAGE);
	U.fifo = calloc(U.budget, sizeof(*U.fifo));
	U.inswap = calloc(U.pages, 1);
	U.buf = aligned_alloc(PG, PG);
	U.zero = aligned_alloc(PG, PG);
	if (!U.fifo || !U.inswap || !U.buf || !U.zero)
		return -ENOMEM;
	memset(U.zero, 0, PG);
	if ((U.swapfd = swap_open()) < 0)
		return U.swapfd;
	U.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (U.uffd < 0)
		return -errno;
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC};
	U.wp = 1;
	if (ioctl(U.uffd, UFFDIO_API, &api)) {
		/* No WP_ASYNC: a fresh fd (API is once per fd), write every
		 * victim back. */
		close(U.uffd);
		U.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
		struct uffdio_api a0 = {.api = UFFD_API};
		if (U.uffd < 0 || ioctl(U.uffd, UFFDIO_API, &a0))
			return -errno;
		U.wp = 0;
	}
	struct uffdio_register reg = {
	    .range = {(uintptr_t)U.base, len},
	    .mode = UFFDIO_REGISTER_MODE_MISSING |
		    (U.wp ? UFFDIO_REGISTER_MODE_WP : 0)};
	if (ioctl(U.uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	/* Handler and faulting thread on one CPU: a blocked fault then wakes
	 * its handler without a cross-CPU wake-up (docs: 8.5-11 us against
	 * 100-190 us). */
	cpu_set_t cs;
	CPU_ZERO(&cs);
	CPU_SET(sched_getcpu(), &cs);
	sched_setaffinity(0, sizeof(cs), &cs);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setaffinity_np(&at, sizeof(cs), &cs);
	int r = pthread_create(&U.th, &at, u_thread, NULL);
	pthread_attr_destroy(&at);
	return -r;
}

static void u_end(void)
{
	pthread_cancel(U.th);
	pthread_join(U.th, NULL);
	close(U.uffd);
	close(U.swapfd);
	munmap(U.base, U.pages * PG);
	free(U.fifo);
	free(U.inswap);
	free(U.buf);
	free(U.zero);
	cpu_set_t cs;
	CPU_ZERO(&cs);
	for (int i = 0; i < CPU_SETSIZE && i < 1024; i++)
		CPU_SET(i, &cs);
	sched_setaffinity(0, sizeof(cs), &cs);
}

static int uffd_rep(int rep, struct passres *out)
{
	int r = u_begin();
	if (r) {
		fprintf(stderr, "bench_pager: uffd setup: %s\n", strerror(-r));
		return r;
	}
	struct mem m = {(uint64_t *)U.base, U.pages, calloc(U.pages, 1), 0};
	if (!m.gen)
		return -ENOMEM;
	for (int p = 0; p < NPASS; p++) {
		uint64_t st0[NSTAT], sc0 = U.syscalls;
		memcpy(st0, U.st, sizeof(st0));
		uint64_t t0 = bench_now_ns();
		out[p].touched = (double)run_pass(&m, p, rep);
		out[p].ns = (double)(bench_now_ns() - t0);
		for (int f = 0; f < NSTAT; f++)
			out[p].st[f] = (double)(U.st[f] - st0[f]);
		out[p].handler_syscalls = (double)(U.syscalls - sc0);
	}
	verify_all(&m);
	out[0].bad = m.bad;
	free(m.gen);
	u_end();
	return 0;
}

/* ---- rows --------------------------------------------------------------------- */
enum { V_D4K, V_D2M, V_UFFD, NV };
static const char *const vname[NV] = {"dune_4k", "dune_2m", "uffd"};
static struct passres res[NV][MAXREPS][NPASS];
static int have[NV];
static const char *why_not[NV];

static double med_of(int v, int p, double (*f)(const struct passres *))
{
	double x[MAXREPS];
	for (int i = 0; i < o_reps; i++)
		x[i] = f(&res[v][i][p]);
	return bench_median(x, o_reps);
}
static double f_usfault(const struct passres *r)
{
	return r->ns / 1e3 / (r->st[S_FAULTS] ? r->st[S_FAULTS] : 1);
}
static double f_pps(const struct passres *r)
{
	return r->touched / (r->ns / 1e9);
}

static void pager_rows(void)
{
	static const char *const what[NPASS] = {
	    "sequential write of every page (zero fill; evictions dirty)",
	    "sequential read of every page (swap-in)",
	    "random reads of pages",
	    "random read-modify-writes of pages"};
	for (int p = 0; p < NPASS; p++)
		for (int v = 0; v < NV; v++) {
			struct bench_row row =
			    bench_row_init(pass_name[p], vname[v], "us");
			char note[900], goal[120] = "", vmm[80] = "";
			if (!have[v]) {
				snprintf(note, sizeof(note), "not measured: %s",
					 why_not[v]);
				row.note = note;
				bench_csv_row(stdout, &row);
				continue;
			}
			double x[MAXREPS], ratio[MAXREPS];
			double tf = 0, tt = 0, ex = 0, sc = 0, fl = 0, mon = 0;
			char reps[160] = "";
			double sum[NSTAT] = {0};
			long bad = 0;
			for (int i = 0; i < o_reps; i++) {
				const struct passres *q = &res[v][i][p];
				x[i] = f_usfault(q);
				if (have[V_UFFD])
					ratio[i] = x[i] /
					    f_usfault(&res[V_UFFD][i][p]);
				tf += q->st[S_FAULTS];
				tt += q->touched;
				ex += (double)q->d.exits;
				sc += v == V_UFFD ? q->handler_syscalls
						  : (double)q->d.syscalls;
				fl += (double)q->d.faults;
				mon += (double)q->d.monitor_ns;
				size_t rl = strlen(reps);
				snprintf(reps + rl, sizeof(reps) - rl, "%s%.1f",
					 i ? " " : "", x[i]);
				for (int f = 0; f < NSTAT; f++)
					sum[f] += q->st[f];
				bad += res[v][i][0].bad;
			}
			bench_summarize(x, o_reps, &row.s);
			if (v != V_UFFD && have[V_UFFD])
				row.ratio = bench_median(ratio, o_reps);
			if (tf > 0) {
				row.syscalls_per_op = sc / tf;
				if (v != V_UFFD)
					row.exits_per_op = ex / tf;
			}
			if (v != V_UFFD && tt > 0)
				row.faults_per_op = fl / tt;
			if (p == NPASS - 1) {
				snprintf(goal, sizeof(goal), "contents "
					 "verified: %s", bad ? "NOT met" : "met");
				row.goal = goal;
			}
			double n = o_reps;
			if (v != V_UFFD && tf > 0)
				snprintf(vmm, sizeof(vmm), "; time in the vmm "
					 "%.1f us per fault", mon / tf / 1e3);
			snprintf(note, sizeof(note),
				 "%s; %zu MiB region; %zu MiB budget; %s; per "
				 "pass (mean of %d reps): %.0f pages touched; "
				 "%.0f faults; %.0f evictions; %.0f write-backs; "
				 "%.0f swap-ins; %.0f zero fills; %.0f pages/s "
				 "(median); us per fault per rep: %s%s; "
				 "unit: us per fault; ratio: over "
				 "uffd per rep; faults_per_op: guest exceptions "
				 "reaching the vmm per page touched (0: the #PF "
				 "goes to the guest's own handler); syscalls_per_op: per fault%s",
				 what[p], o_region_mb, o_budget_mb,
				 v == V_D2M ? "2 MiB frames (pages touched "
					      "count 4 KiB pages)"
				 : v == V_UFFD
				     ? "FIFO eviction; dirty-only write-back "
				       "(PAGEMAP_SCAN PAGE_IS_WRITTEN on "
				       "WP_ASYNC)"
				     : "4 KiB frames; clock over A bits",
				 o_reps, tt / n, sum[S_FAULTS] / n,
				 sum[S_EVICT] / n, sum[S_WB] / n,
				 sum[S_SWAPIN] / n, sum[S_ZERO] / n,
				 med_of(v, p, f_pps), reps, vmm,
				 v == V_UFFD ? " (the handler thread's own "
					       "count: read + scan + pwrite + "
					       "madvise + pread + copy)"
					     : " (forwarded: pread/pwrite of "
					       "swap and others)");
			row.note = note;
			bench_csv_row(stdout, &row);
		}
}

static int run_pager(void)
{
	/* One slot per budget frame, plus tables. */
	char slots[32];
	snprintf(slots, sizeof(slots), "%zu",
		 o_budget_mb * MiB / PG + 4096);
	setenv("DUNE_CAP_SLOTS", slots, 0);
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	have[V_D4K] = have[V_D2M] = !r;
	why_not[V_D4K] = why_not[V_D2M] = "the guest child did not start";
	have[V_UFFD] = 1;
	if (have[V_D2M] && (o_region_mb % 2 || o_budget_mb % 2)) {
		have[V_D2M] = 0;
		why_not[V_D2M] = "region and budget must be 2 MiB multiples";
	}
	if (!o_2m) {
		have[V_D2M] = 0;
		why_not[V_D2M] = "--no-2m";
	}
	for (int i = 0; i < o_reps; i++) {
		/* Alternate which side goes first. */
		for (int k = 0; k < NV; k++) {
			int v = i % 2 ? NV - 1 - k : k;
			if (!have[v])
				continue;
			int e = v == V_UFFD ? uffd_rep(i, res[v][i])
					    : dune_rep(&g, v == V_D2M, i,
						       res[v][i]);
			if (e == -ENOTSUP && v != V_UFFD) {
				have[V_D4K] = have[V_D2M] = 0;
				why_not[V_D4K] = why_not[V_D2M] =
				    "vspace needs ring-3 mode (ENOTSUP)";
				continue;
			}
			if (e) {
				fprintf(stderr, "bench_pager: %s rep %d: %s\n",
					vname[v], i, strerror(-e));
				if (!r)
					bench_guest_stop(&g);
				return 1;
			}
		}
	}
	if (!r)
		bench_guest_stop(&g);
	pager_rows();
	return 0;
}

/* ---- replication ----------------------------------------------------------------- */
enum { RV_NOREP, RV_REP, NRV };
static const char *const rvname[NRV] = {"norep", "rep2"};
enum { RR_ROOT, RR_N0, RR_N1, NRR };
static const char *const rrname[NRR] = {"root", "node0", "node1"};

static int run_replica(void)
{
	char slots[32];
	snprintf(slots, sizeof(slots), "%zu", o_ft_mb * MiB / PG + 4096);
	setenv("DUNE_CAP_SLOTS", slots, 1);
	setenv("DUNE_NUMA_NODES", "2", 1);
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	unsetenv("DUNE_NUMA_NODES");
	if (r) {
		fprintf(stderr, "bench_pager: replica: guest: %s\n",
			strerror(-r));
		return 1;
	}
	double ft[2][NRV][MAXREPS], rr[NRV][NRR][MAXREPS];
	double map_ms[NRV][MAXREPS];
	struct bench_counts ftc[2][NRV], rrc[NRV][NRR];
	double ftn[2][NRV] = {{0}};
	memset(ftc, 0, sizeof(ftc));
	int nrep[NRV] = {0}, okrr[NRV][NRR];
	uint64_t sum_want = rr_chain(NULL, o_rr_mb * MiB / 8 - 1, o_reads);
	long badsum = 0;
	memset(rrc, 0, sizeof(rrc));
	memset(okrr, 0, sizeof(okrr));
	struct bench_msg m;
	for (int i = 0; i < o_reps && !r; i++)
		for (int k = 0; k < NRV && !r; k++) {
			int v = i % 2 ? NRV - 1 - k : k;
			if ((r = call(&g, OP_R_BEGIN,
				      v == RV_REP ? VSPACE_REPLICATE : 0, &m)))
				break;
			nrep[v] = (int)m.result;
			for (int b = 0; b < 2 && !r; b++) {
				if ((r = call(&g, OP_R_FT, (uint64_t)b, &m)))
					break;
				ft[b][v][i] = (double)m.ns / 1e3 /
					      (double)m.result;
				ftn[b][v] += (double)m.result;
				ftc[b][v].exits += m.d.exits;
				ftc[b][v].syscalls += m.d.syscalls;
				ftc[b][v].faults += m.d.faults;
			}
			if (r)
				break;
			if ((r = call(&g, OP_R_MAP, 0, &m)))
				break;
			map_ms[v][i] = (double)m.ns / 1e6;
			for (int j = 0; j < NRR && !r; j++) {
				int q = i % 2 ? NRR - 1 - j : j;
				uint64_t root = q == RR_ROOT ? 0xff
					      : q == RR_N0 ? 0 : 1;
				if ((int)root != 0xff && (int)root >= nrep[v])
					continue;
				if ((r = call(&g, OP_R_READ, root, &m)))
					break;
				okrr[v][q] = 1;
				rr[v][q][i] = (double)m.ns / (double)o_reads;
				rrc[v][q].exits += m.d.exits;
				if (m.result != sum_want)
					badsum++;
			}
			int r2 = call(&g, OP_R_END, 0, &m);
			if (!r)
				r = r2;
		}
	bench_guest_stop(&g);
	if (r) {
		fprintf(stderr, "bench_pager: replica: %s\n", strerror(-r));
		return 1;
	}
	for (int b = 0; b < 2; b++)
		for (int v = 0; v < NRV; v++) {
			struct bench_row row = bench_row_init(
			    b ? "replica_evict_fault" : "replica_first_touch",
			    rvname[v], "us");
			char note[500];
			bench_summarize(ft[b][v], o_reps, &row.s);
			row.exits_per_op = (double)ftc[b][v].exits / ftn[b][v];
			row.syscalls_per_op =
			    (double)ftc[b][v].syscalls / ftn[b][v];
			row.faults_per_op = (double)ftc[b][v].faults / ftn[b][v];
			snprintf(note, sizeof(note),
				 "first write to each 4 KiB page of a %zu MiB "
				 "demand-zero region %s; per fault; %d page-table "
				 "replica(s); DUNE_NUMA_NODES=2 (emulated on one "
				 "host node); DUNE_CAP_SLOTS=%s",
				 o_ft_mb,
				 b ? "with a budget of 1/8 of it (the pager "
				     "evicts: clock over the A bits of every "
				     "replica; a dirty write-back; unmap from "
				     "every replica)"
				   : "(no budget)",
				 nrep[v], slots);
			row.note = note;
			bench_csv_row(stdout, &row);
		}
	for (int v = 0; v < NRV; v++)
		for (int q = 0; q < NRR; q++) {
			char var[32], note[500], goal[80] = "";
			snprintf(var, sizeof(var), "%s_%s", rvname[v],
				 rrname[q]);
			struct bench_row row =
			    bench_row_init("replica_rand_read", var, "ns");
			if (!okrr[v][q]) {
				row.note = "not measured: no replica of node 1 "
					   "without VSPACE_REPLICATE";
				bench_csv_row(stdout, &row);
				continue;
			}
			bench_summarize(rr[v][q], o_reps, &row.s);
			row.exits_per_op = (double)rrc[v][q].exits /
					   ((double)o_reads * o_reps);
			snprintf(note, sizeof(note),
				 "dependent random 8-byte reads over %zu MiB of "
				 "4 KiB pages (a VS_FRAME region over a node-0 "
				 "frame; every page mapped; the root warmed "
				 "first); per read; from %s; mapping + fill "
				 "%.0f ms (median)",
				 o_rr_mb,
				 q == RR_ROOT ? "the process's own root "
						"(unbound)"
				 : q == RR_N0 ? "the thread bound to node 0"
					      : "the thread bound to node 1",
				 bench_median(map_ms[v], o_reps));
			row.note = note;
			if (v == NRV - 1 && q == NRR - 1) {
				snprintf(goal, sizeof(goal), "same data from "
					 "every root: %s",
					 badsum ? "NOT met" : "met");
				row.goal = goal;
			}
			bench_csv_row(stdout, &row);
		}
	return 0;
}

int main(int argc, char **argv)
{
	int want_p = 0, want_r = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, var)                                                         \
	if (!strcmp(a, name) && v) {                                           \
		var = strtoul(v, NULL, 0);                                     \
		i++;                                                           \
		continue;                                                      \
	}
		OPT("--region-mb", o_region_mb)
		OPT("--budget-mb", o_budget_mb)
		OPT("--rand", o_rand)
		OPT("--ft-mb", o_ft_mb)
		OPT("--rr-mb", o_rr_mb)
		OPT("--reads", o_reads)
#undef OPT
		if (!strcmp(a, "--reps") && v) {
			o_reps = atoi(v);
			i++;
		} else if (!strcmp(a, "--no-2m"))
			o_2m = 0;
		else if (!strcmp(a, "pager"))
			want_p = 1;
		else if (!strcmp(a, "replica"))
			want_r = 1;
		else {
			fprintf(stderr,
				"usage: bench_pager [pager] [replica] "
				"[--region-mb N] [--budget-mb N] [--rand N] "
				"[--reps R] [--no-2m] [--ft-mb N] [--rr-mb N] "
				"[--reads N]\n");
			return 2;
		}
	}
	if (!want_p && !want_r)
		want_p = want_r = 1;
	size_t rrw = o_rr_mb * MiB / 8;
	if (o_reps < 1 || o_reps > MAXREPS || !o_budget_mb || !o_region_mb ||
	    o_budget_mb >= o_region_mb || !o_ft_mb || !o_reads ||
	    !o_rr_mb || (rrw & (rrw - 1)) || o_rr_mb % 2) {
		fprintf(stderr, "bench_pager: need 1 <= reps <= %d, 0 < budget "
			"< region, --rr-mb a power of two >= 2\n", MAXREPS);
		return 2;
	}
	bench_csv_header(stdout);
	int r = 0;
	if (want_p)
		r |= run_pager();
	if (want_r)
		r |= run_replica();
	return r;
}
