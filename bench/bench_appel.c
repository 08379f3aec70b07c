/* bench/bench_appel.c: the privileged API (dune/vm.h, dune/trap.h) against
 * the Linux paths: a forwarded getpid, a user page fault fixed by a
 * handler, Appel & Li's primitives (trap, prot1, protN, unprot, appel1,
 * appel2; N = 100, per trap) and page-table lookup/walk. "dune" is a forked
 * guest child (DUNE_MODE_AUTO: ring 3 here) with a registered page-fault
 * handler; the Linux variants run in the parent, interleaved round by
 * round with the child's samples. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "dune/dune.h"
#include "dune/trap.h"
#include "dune/vm.h"
#include "linuxmm.h"

#define N 100	       /* pages per protN / appel2 round (Appel & Li) */
#define ROUNDS 11      /* samples per variant */
#define WALK_LEN (64ul << 20)
#define RW (PERM_R | PERM_W | PERM_U)
#define RO (PERM_R | PERM_U)

/* Ring-0 instructions on each path in ring-3 mode, counted statically
 * along guestlib/entry_x86_64.S (objdump -d of the built binary; run.sh
 * warns when the stubs' sizes differ from those these counts were made
 * on: gl_fast_14 6, gl_fast_6 3, gl_ud_fast 39, gl_upcall 56, gl_resume 25
 * instructions):
 *  #PF upcall in: gl_fast_14 3 + gl_upcall 49 (the interrupted stack lies
 *    above the upcall stack: 8 to pick the stack, 39 to save the frame,
 *    2 to pick the ring-3 entry)                                     = 52
 *  (ring-0 mode: one more in, the leaq of gl_upcall_entry0, and the
 *    return runs at CPL0 without the #UD request; not counted here)
 *  resume out (DUNE_PRIV_RESUME): gl_fast_6 3 + gl_ud_fast 7
 *    + gl_resume 25                                                  = 35
 *  invlpg of n pages (DUNE_PRIV_INVLPG_N): 18 + 6n + 2 + 4           = 30 (n=1)
 *  full flush (DUNE_PRIV_FLUSH, > 32 pages): 3 + 5 + 2+2+2 + 3 + 4  = 21 */
#define R0_TRAP 87.0
#define R0_INVLPG1 30.0
#define R0_FLUSH 21.0

enum op {
	OP_GETPID, OP_FAULT, OP_TRAP, OP_PROT1, OP_PROTN, OP_UNPROT,
	OP_APPEL1, OP_APPEL2, OP_LOOKUP, OP_WALK, NOPS
};
enum var { V_DUNE, V_NATIVE, V_SIGSEGV, V_MISSING, V_WP, V_ASYNC, NVARS };
static const char *const var_name[NVARS] = {
    "dune", "native", "sigsegv", "uffd_miss", "uffd_wp", "wp_async"};

struct def {
	const char *name;
	int iters;	 /* per sample */
	int per;	 /* ops per iteration (appel2: N traps) */
	double r0;	 /* dune ring-0 instructions per op */
	unsigned vars;	 /* Linux variants (bit per enum var) */
	const char *goal; /* what the dune row is held to, "" for none */
	const char *note;
};
#define B(v) (1u << (v))
static const struct def defs[NOPS] = {
    [OP_GETPID] = {"getpid", 200, 1, 0, B(V_NATIVE), "",
		   "syscall(SYS_getpid): forwarded by the vmm in dune (the "
		   "LSTAR stub is one out at CPL3 here)"},
    [OP_FAULT] = {"user_fault", N, 1, R0_TRAP + R0_INVLPG1,
		  B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "exits",
		  "write to an inaccessible page; the handler makes it "
		  "accessible (dune: map_phys in a pgflt handler; sigsegv: "
		  "mprotect RW; uffd_miss: UFFDIO_COPY; uffd_wp: un-protect; "
		  "wp_async: the kernel un-protects)"},
    [OP_TRAP] = {"trap", N, 1, R0_TRAP, B(V_SIGSEGV), "ring0",
		 "write fault whose handler resumes after the instruction "
		 "(no protection change)"},
    [OP_PROT1] = {"prot1", N, 1, R0_INVLPG1,
		  B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "pte",
		  "protect one page (dune_vm_mprotect RO / mprotect / "
		  "MADV_DONTNEED / UFFDIO_WRITEPROTECT / PAGEMAP_SCAN "
		  "WP_MATCHING)"},
    [OP_PROTN] = {"protN", 20, 1, R0_FLUSH,
		  B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "pte",
		  "protect 100 pages in one call; per call"},
    [OP_UNPROT] = {"unprot", N, 1, R0_INVLPG1,
		   B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "pte",
		   "un-protect one page (uffd_miss: UFFDIO_COPY; wp_async: "
		   "the first write after protecting; the kernel un-protects)"},
    [OP_APPEL1] = {"appel1", N, 1, R0_TRAP + 2 * R0_INVLPG1,
		   B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "exits",
		   "prot1 + trap + unprot in the handler; per trap"},
    [OP_APPEL2] = {"appel2", 2, N, R0_TRAP + R0_INVLPG1 + R0_FLUSH / N,
		   B(V_SIGSEGV) | B(V_MISSING) | B(V_WP) | B(V_ASYNC), "exits",
		   "protN (100 pages; timed) + 100 x (trap + unprot in the "
		   "handler); per trap"},
    [OP_LOOKUP] = {"pt_lookup", 20000, 1, 0, B(V_NATIVE), "",
		   "dune_vm_lookup of a mapped page; native: pread of its "
		   "/proc/self/pagemap entry"},
    [OP_WALK] = {"pt_walk", 4, (int)(WALK_LEN / BPG), 0, B(V_NATIVE), "",
		 "dune_vm_page_walk over 64 MiB of 4 KiB pages; native: "
		 "pread of their pagemap entries; per page"},
};

/* ---- the dune side (in the guest child) ------------------------------------ */
enum dmode { D_SKIP, D_UNPROT, D_MAP };
static volatile enum dmode dmode;
static char *g_pages;		   /* N guest-only pages */
static uintptr_t g_frames[N];	   /* their frames */
static char *g_walk;		   /* WALK_LEN of process memory */
static volatile uint64_t d_foreign;

static void dune_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	uintptr_t page = addr & ~(BPG - 1), base = (uintptr_t)g_pages;
	(void)fec;
	if (page < base || page >= base + N * BPG) {
		d_foreign++; /* not ours: let the vmm handle the retry */
		dune_register_pgflt_handler(NULL);
		return;
	}
	if (dmode == D_SKIP)
		tf->rip = (uintptr_t)bench_touch_resume;
	else if (dmode == D_UNPROT)
		dune_vm_mprotect(NULL, (void *)page, BPG, RW);
	else
		dune_vm_map_phys(NULL, (void *)page, BPG,
				 (void *)g_frames[(page - base) / BPG], RW);
}

static int dune_setup(void)
{
	if (g_pages)
		return 0;
	char *raw = mmap(NULL, 4ul << 20, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	/* Guest-only pages inside a host PROT_NONE reservation. */
	char *p = (char *)(((uintptr_t)raw + (2ul << 20) - 1) &
			   ~((2ul << 20) - 1));
	int r = dune_vm_map_pages(NULL, p, N * BPG, RW);
	for (int i = 0; !r && i < N; i++) {
		ptent_t *e;
		p[i * BPG] = 1; /* host memory behind the frame */
		r = dune_vm_lookup(NULL, p + i * BPG, 0, &e);
		if (!r)
			g_frames[i] = DUNE_PTE_ADDR(*e);
	}
	g_walk = mmap(NULL, WALK_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (g_walk == MAP_FAILED)
		return -errno;
	madvise(g_walk, WALK_LEN, MADV_NOHUGEPAGE);
	g_pages = p;
	return r;
}

static int walk_count(const void *arg, ptent_t *e, void *va)
{
	(void)e;
	(void)va;
	++*(uint64_t *)(uintptr_t)arg;
	return 0;
}

/* One sample of op; returns the time of the measured parts. */
static uint64_t dune_run(int op, int iters, uint64_t *check)
{
	uint64_t acc = 0, t0, sum = 0;
	char *p = g_pages;
	ptent_t *e;
	switch (op) {
	case OP_GETPID:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			syscall(SYS_getpid);
		return bench_now_ns() - t0;
	case OP_FAULT:
		dune_vm_unmap(NULL, p, N * BPG);
		dmode = D_MAP;
		t0 = bench_now_ns();
		for (int i = 0; i < iters; i++)
			bench_touch(p + i * BPG);
		return bench_now_ns() - t0;
	case OP_TRAP:
		dmode = D_SKIP;
		dune_vm_mprotect(NULL, p, BPG, RO);
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			bench_touch(p);
		acc = bench_now_ns() - t0;
		dune_vm_mprotect(NULL, p, BPG, RW);
		return acc;
	case OP_PROT1:
	case OP_UNPROT:
		for (int i = 0; i < iters; i++) {
			char *q = p + (i % N) * BPG;
			t0 = bench_now_ns();
			dune_vm_mprotect(NULL, q, BPG, RO);
			uint64_t t1 = bench_now_ns();
			dune_vm_mprotect(NULL, q, BPG, RW);
			acc += op == OP_PROT1 ? t1 - t0 : bench_now_ns() - t1;
		}
		return acc;
	case OP_PROTN:
		for (int k = 0; k < iters; k++) {
			t0 = bench_now_ns();
			dune_vm_mprotect(NULL, p, N * BPG, RO);
			acc += bench_now_ns() - t0;
			dune_vm_mprotect(NULL, p, N * BPG, RW);
		}
		return acc;
	case OP_APPEL1:
		dmode = D_UNPROT;
		t0 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			dune_vm_mprotect(NULL, p + i * BPG, BPG, RO);
			bench_touch(p + i * BPG);
		}
		return bench_now_ns() - t0;
	case OP_APPEL2:
		dmode = D_UNPROT;
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++) {
			dune_vm_mprotect(NULL, p, N * BPG, RO);
			for (int i = 0; i < N; i++)
				bench_touch(p + i * BPG);
		}
		return bench_now_ns() - t0;
	case OP_LOOKUP:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			if (!dune_vm_lookup(NULL, p + (k % N) * BPG, 0, &e))
				sum += *e & DUNE_PTE_P;
		acc = bench_now_ns() - t0;
		*check = sum;
		return acc;
	case OP_WALK:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			dune_vm_page_walk(NULL, g_walk, g_walk + WALK_LEN,
					  walk_count, &sum);
		acc = bench_now_ns() - t0;
		*check = sum;
		return acc;
	}
	return 0;
}

static void serve(struct bench_msg *m)
{
	struct bench_counts a, b;
	int r = dune_setup();
	if (r) {
		m->err = -r;
		return;
	}
	uint64_t check = 0, f0 = d_foreign;
	dune_register_pgflt_handler(dune_pgflt);
	bench_counts_read(&a);
	m->ns = dune_run(m->op, (int)m->iters, &check);
	bench_counts_read(&b);
	dune_register_pgflt_handler(NULL);
	bench_counts_sub(&m->d, &b, &a);
	m->result = check;
	if (d_foreign != f0)
		m->err = EFAULT; /* a fault outside the pages: not measured */
}

/* ---- the Linux side (in the parent) ----------------------------------------- */
static char *l_seg;		 /* N pages for mprotect + SIGSEGV */
static struct uffd u_miss, u_wp, u_async;
static int pm_fd;

static char *anon_pages(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 1, len);
	return p;
}

/* The variants this kernel offers. */
static unsigned have_vars = ~0u;

static int linux_setup(const char **why)
{
	char *a = anon_pages(N * BPG), *b = anon_pages(N * BPG),
	     *c = anon_pages(N * BPG);
	l_seg = anon_pages(N * BPG);
	g_walk = anon_pages(WALK_LEN);
	int r;
	if (!a || !b || !c || !l_seg || !g_walk)
		return -ENOMEM;
	if ((r = segv_install())) {
		*why = "sigaction";
		return r;
	}
	if ((r = uffd_open(&u_miss, UFFD_MISSING, a, N * BPG))) {
		*why = "userfaultfd MISSING";
		return r;
	}
	if ((r = uffd_open(&u_wp, UFFD_WP, b, N * BPG))) {
		*why = "userfaultfd WP";
		return r;
	}
	if ((r = uffd_open(&u_async, UFFD_WP_ASYNC, c, N * BPG))) {
		/* Linux 6.7 and later (the VM runner's 6.1 lacks it). */
		fprintf(stderr,
			"bench_appel: userfaultfd WP_ASYNC: %s: its rows "
			"are left out\n",
			strerror(-r));
		have_vars &= ~B(V_ASYNC);
	}
	static struct uffd *const sync_uffds[] = {&u_miss, &u_wp};
	if ((r = uffd_start_handler(sync_uffds, 2))) {
		*why = "uffd handler thread";
		return r;
	}
	pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return pm_fd < 0 ? -errno : 0;
}

/* Protect / un-protect in variant v's terms. */
static void lprot(int v, char *p, size_t len)
{
	uintptr_t out[N];
	if (v == V_SIGSEGV)
		mprotect(p, len, PROT_READ);
	else if (v == V_MISSING)
		madvise(p, len, MADV_DONTNEED);
	else if (v == V_WP)
		uffd_wp(&u_wp, p, len, 1);
	else
		pagemap_scan_written(p, len, out, N, 1);
}

static void lunprot(int v, char *p, size_t len)
{
	for (size_t o = 0; o < len; o += BPG) {
		if (v == V_SIGSEGV)
			mprotect(p + o, BPG, PROT_READ | PROT_WRITE);
		else if (v == V_MISSING)
			uffd_fill(&u_miss, p + o);
		else if (v == V_WP)
			uffd_wp(&u_wp, p + o, BPG, 0);
		else
			bench_touch(p + o); /* the kernel un-protects */
	}
}

static char *lpages(int v)
{
	return v == V_SIGSEGV ? l_seg
	       : v == V_MISSING ? u_miss.base
	       : v == V_WP ? u_wp.base : u_async.base;
}

static uint64_t linux_run(int op, int v, int iters)
{
	uint64_t acc = 0, t0, sum = 0;
	char *p = lpages(v);
	segv_set_mode(SEGV_UNPROT);
	switch (op) {
	case OP_GETPID:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			syscall(SYS_getpid);
		return bench_now_ns() - t0;
	case OP_FAULT:
		lprot(v, p, N * BPG);
		t0 = bench_now_ns();
		for (int i = 0; i < iters; i++)
			bench_touch(p + i * BPG);
		return bench_now_ns() - t0;
	case OP_TRAP:
		segv_set_mode(SEGV_SKIP);
		mprotect(p, BPG, PROT_READ);
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			bench_touch(p);
		acc = bench_now_ns() - t0;
		mprotect(p, BPG, PROT_READ | PROT_WRITE);
		segv_set_mode(SEGV_UNPROT);
		return acc;
	case OP_PROT1:
	case OP_UNPROT:
		for (int i = 0; i < iters; i++) {
			char *q = p + (i % N) * BPG;
			t0 = bench_now_ns();
			lprot(v, q, BPG);
			uint64_t t1 = bench_now_ns();
			lunprot(v, q, BPG);
			acc += op == OP_PROT1 ? t1 - t0 : bench_now_ns() - t1;
		}
		return acc;
	case OP_PROTN:
		for (int k = 0; k < iters; k++) {
			t0 = bench_now_ns();
			lprot(v, p, N * BPG);
			acc += bench_now_ns() - t0;
			lunprot(v, p, N * BPG);
		}
		return acc;
	case OP_APPEL1:
		t0 = bench_now_ns();
		for (int i = 0; i < iters; i++) {
			lprot(v, p + i * BPG, BPG);
			bench_touch(p + i * BPG);
		}
		return bench_now_ns() - t0;
	case OP_APPEL2:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++) {
			lprot(v, p, N * BPG);
			for (int i = 0; i < N; i++)
				bench_touch(p + i * BPG);
		}
		return bench_now_ns() - t0;
	case OP_LOOKUP:
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++) {
			uint64_t ent = 0;
			off_t off = (off_t)((uintptr_t)(l_seg + (k % N) * BPG) /
					    BPG * 8);
			if (pread(pm_fd, &ent, 8, off) == 8)
				sum += ent >> 63;
		}
		return bench_now_ns() - t0;
	case OP_WALK: {
		static uint64_t buf[WALK_LEN / BPG];
		off_t off = (off_t)((uintptr_t)g_walk / BPG * 8);
		t0 = bench_now_ns();
		for (int k = 0; k < iters; k++)
			if (pread(pm_fd, buf, sizeof(buf), off) < 0)
				return 0;
		return bench_now_ns() - t0;
	}
	}
	(void)sum;
	return 0;
}

/* ---- driver ----------------------------------------------------------------- */
static double samp[NOPS][NVARS][ROUNDS];
static struct bench_counts dcount[NOPS];

static int dune_sample(struct bench_guest *g, int op, double *ns)
{
	struct bench_msg m;
	memset(&m, 0, sizeof(m));
	m.op = op;
	m.iters = (uint64_t)defs[op].iters;
	int r = bench_guest_call(g, &m);
	if (r)
		return r;
	*ns = (double)m.ns / (defs[op].iters * (double)defs[op].per);
	dcount[op].exits += m.d.exits;
	dcount[op].syscalls += m.d.syscalls;
	dcount[op].faults += m.d.faults;
	return 0;
}

static double linux_sample(int op, int v)
{
	uint64_t ns = linux_run(op, v, defs[op].iters);
	return (double)ns / (defs[op].iters * (double)defs[op].per);
}

static void goal_text(char *buf, size_t n, int op, double epo)
{
	const char *g = defs[op].goal;
	buf[0] = 0;
	if (!strcmp(g, "exits"))
		snprintf(buf, n, "0 VM exits per trap: %s",
			 epo == 0 ? "met" : "NOT met");
	else if (!strcmp(g, "pte"))
		snprintf(buf, n, "0 VM exits per PTE change: %s",
			 epo == 0 ? "met" : "NOT met");
	else if (!strcmp(g, "ring0"))
		snprintf(buf, n, "0 VM exits and a ring-0 path of tens of "
			 "instructions per trap (%.0f): %s", defs[op].r0,
			 epo == 0 && defs[op].r0 < 100 ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
	int only = -1;
	if (argc > 1) /* one benchmark by name, for debugging */
		for (int op = 0; op < NOPS; op++)
			if (!strcmp(argv[1], defs[op].name))
				only = op;
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	if (r) {
		fprintf(stderr, "bench_appel: %s\n", strerror(-r));
		return 1;
	}
	const char *why = "setup";
	if ((r = linux_setup(&why))) {
		fprintf(stderr, "bench_appel: %s: %s\n", why, strerror(-r));
		bench_guest_stop(&g);
		return 1;
	}
	double junk;
	for (int op = 0; op < NOPS; op++) {
		if (only >= 0 && op != only)
			continue;
		/* Warm-up, then interleaved rounds, order alternating. */
		if ((r = dune_sample(&g, op, &junk)))
			goto fail;
		memset(&dcount[op], 0, sizeof(dcount[op]));
		for (int v = 1; v < NVARS; v++)
			if (defs[op].vars & have_vars & B(v))
				(void)linux_sample(op, v);
		for (int i = 0; i < ROUNDS; i++) {
			if (i % 2 && (r = dune_sample(&g, op, &samp[op][0][i])))
				goto fail;
			for (int v = 1; v < NVARS; v++)
				if (defs[op].vars & have_vars & B(v))
					samp[op][v][i] = linux_sample(op, v);
			if (!(i % 2) &&
			    (r = dune_sample(&g, op, &samp[op][0][i])))
				goto fail;
		}
	}
	bench_guest_stop(&g);
	uffd_stop_handler();

	bench_csv_header(stdout);
	for (int op = 0; op < NOPS; op++) {
		if (only >= 0 && op != only)
			continue;
		const struct def *d = &defs[op];
		double nops = (double)ROUNDS * d->iters * d->per;
		char goal[160], note[400];
		struct bench_row row = bench_row_init(d->name, "dune", "ns");
		double tmp[ROUNDS];
		memcpy(tmp, samp[op][0], sizeof(tmp));
		bench_summarize(tmp, ROUNDS, &row.s);
		row.exits_per_op = (double)dcount[op].exits / nops;
		row.syscalls_per_op = (double)dcount[op].syscalls / nops;
		row.faults_per_op = (double)dcount[op].faults / nops;
		row.ring0_insns_per_op = d->r0;
		goal_text(goal, sizeof(goal), op, row.exits_per_op);
		row.goal = goal;
		snprintf(note, sizeof(note), "%s; mode %s; x%d per sample", d->note,
			 g.mode == DUNE_MODE_RING0 ? "ring0" : "ring3",
			 d->iters * d->per);
		row.note = note;
		bench_csv_row(stdout, &row);
		for (int v = 1; v < NVARS; v++) {
			if (!(d->vars & have_vars & B(v)))
				continue;
			double ratio[ROUNDS];
			row = bench_row_init(d->name, var_name[v], "ns");
			memcpy(tmp, samp[op][v], sizeof(tmp));
			for (int i = 0; i < ROUNDS; i++)
				ratio[i] = samp[op][0][i] / samp[op][v][i];
			bench_summarize(tmp, ROUNDS, &row.s);
			row.ratio = bench_median(ratio, ROUNDS);
			row.exits_per_op = 0;
			if (v == V_WP || v == V_MISSING)
				row.note = "handler thread pinned to the "
					   "faulting thread's CPU";
			else if (v == V_ASYNC)
				row.note = "no user handler: the kernel "
					   "un-protects on write";
			bench_csv_row(stdout, &row);
		}
	}
	return 0; /* run.sh reports goals not met */
fail:
	fprintf(stderr, "bench_appel: guest child failed: %s\n", strerror(-r));
	bench_guest_stop(&g);
	uffd_stop_handler();
	return 1;
}
