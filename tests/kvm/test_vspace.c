/* tests/kvm/test_vspace.c: dune/vspace.h in ring-3 mode: demand-zero
 * regions, data integrity under paging with a frame budget far below the
 * working set (sequential and random, every word checked), write-back of
 * dirty pages only, file and frame objects, 2 MiB pages, replication on
 * two emulated NUMA nodes, faults outside the regions (host memory, stack
 * growth, real SIGSEGVs), bad arguments, a destroy that leaks nothing,
 * and cache-coloured regions (frames' host PFNs checked in pagemap). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dune/cap.h"
#include "dune/dune.h"
#include "dune/vm.h"
#include "dune/vspace.h"
#include "helpers.h"

#define MiB (1ull << 20)
#define PG 4096ull
#define WORDS (PG / 8)
#define RW (VS_R | VS_W)

static struct vspace *vs;

static void setup(unsigned flags)
{
	enter_or_fail(test_mode());
	int r = vspace_create(flags, &vs);
	cr_assert_eq(r, 0, "vspace_create: %d", r);
}

static struct vs_region *region(size_t len, unsigned flags, size_t budget)
{
	struct vs_region_attr a = {.flags = flags, .node = VS_NODE_LOCAL,
				   .budget = budget};
	struct vs_region *r = NULL;
	int e = vspace_region_create(vs, NULL, len, &a, &r);
	cr_assert_eq(e, 0, "region of %zu bytes: %d", len, e);
	return r;
}

static uint64_t used_bytes(void)
{
	struct dune_ram_limits l;
	cr_assert_eq(dune_cap_ram_limits(&l), 0);
	return l.used_bytes;
}

static void cap_ok(void)
{
	const char *why = NULL;
	int r = dune_cap_check(&why);
	cr_assert_eq(r, 0, "dune_cap_check: %s", why ? why : "?");
}

static struct vs_stats stats(struct vs_region *r)
{
	struct vs_stats s;
	cr_assert_eq(vs_region_stats(r, &s), 0);
	return s;
}

static uint64_t val(size_t page, size_t w, uint8_t gen)
{
	return (page * 0x9e3779b97f4a7c15ull) ^ (w << 8) ^ gen;
}

static void fill(uint64_t *base, size_t page, uint8_t gen)
{
	for (size_t w = 0; w < WORDS; w++)
		base[page * WORDS + w] = val(page, w, gen);
}

static void check(const uint64_t *base, size_t page, uint8_t gen)
{
	for (size_t w = 0; w < WORDS; w++)
		if (base[page * WORDS + w] != val(page, w, gen))
			cr_assert_fail("page %zu word %zu: %#llx, want %#llx",
				       page, w,
				       (unsigned long long)base[page * WORDS + w],
				       (unsigned long long)val(page, w, gen));
}

/* ---- demand zero ---------------------------------------------------- */
Test(vspace, demand_zero_reads_and_writes)
{
	setup(0);
	struct vs_region *r = region(4 * MiB, RW, 0);
	volatile char *p = vs_region_start(r);
	cr_assert_eq((uintptr_t)p % (2 * MiB), 0);
	for (size_t o = 0; o < 4 * MiB; o += PG)
		cr_assert_eq(p[o + (o / PG) % PG], 0, "not zero at %#zx", o);
	struct vs_stats s = stats(r);
	cr_assert_eq(s.faults, 1024);
	cr_assert_eq(s.zero_fills, 1024);
	cr_assert_eq(s.evictions, 0);
	for (size_t o = 0; o < 4 * MiB; o += 512)
		p[o] = (char)(o >> 9);
	for (size_t o = 0; o < 4 * MiB; o += 512)
		cr_assert_eq(p[o], (char)(o >> 9));
	cr_assert_eq(stats(r).faults, 1024, "writes to present pages fault");
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
}

/* ---- the pager ------------------------------------------------------ */
Test(vspace, sequential_paging_keeps_every_word)
{
	setup(0);
	size_t pages = 2048; /* 8 MiB in a 1 MiB budget */
	struct vs_region *r = region(pages * PG, RW, 1 * MiB);
	uint64_t *b = vs_region_start(r);
	for (size_t p = 0; p < pages; p++)
		fill(b, p, 1);
	for (int pass = 0; pass < 2; pass++)
		for (size_t p = 0; p < pages; p++)
			check(b, p, 1);
	struct vs_stats s = stats(r);
	cr_assert_leq(s.resident, 256, "budget of 256 frames: %llu",
		      (unsigned long long)s.resident);
	cr_assert_eq(s.faults, 3 * pages, "every access of a pass faults");
	cr_assert_eq(s.writebacks, pages, "each page written once: %llu",
		     (unsigned long long)s.writebacks);
	cr_assert_eq(s.swapins, 2 * pages);
	cr_assert_eq(s.evictions, 3 * pages - 256);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
}

Test(vspace, random_paging_keeps_every_word)
{
	setup(0);
	size_t pages = 1024;
	struct vs_region *r = region(pages * PG, RW, 128 * PG);
	uint64_t *b = vs_region_start(r);
	uint8_t *gen = calloc(pages, 1);
	uint64_t x = 12345;
	for (int k = 0; k < 6000; k++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t p = (size_t)(x >> 33) % pages;
		if (gen[p])
			check(b, p, gen[p]);
		else
			cr_assert_eq(b[p * WORDS + (x & 511)], 0);
		if (x & (1ull << 20))
			fill(b, p, ++gen[p] ? gen[p] : ++gen[p]);
	}
	for (size_t p = 0; p < pages; p++)
		if (gen[p])
			check(b, p, gen[p]);
	struct vs_stats s = stats(r);
	cr_assert_gt(s.evictions, 1000);
	cr_assert_gt(s.writebacks, 0);
	cr_assert_gt(s.clean_drops, 0);
	cr_assert_leq(s.resident, 128);
	free(gen);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
}

/* Two threads (two vCPUs) page the same region at once: each increments
 * counters on pages of its own, the budget is an eighth of the pages, so
 * evictions constantly take pages another vCPU just used. Every increment
 * must survive (unmap-first eviction, shootdown). */
#define MT_PAGES 256
#define MT_ROUNDS 12
struct mt_arg {
	uint64_t *base;
	int parity;
};

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	unsigned seed = 7u + (unsigned)a->parity;
	for (int round = 0; round < MT_ROUNDS; round++)
		for (int k = 0; k < MT_PAGES / 2; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t page = 2 * ((seed >> 8) % (MT_PAGES / 2)) +
				      (size_t)a->parity;
			a->base[page * WORDS + (seed >> 20) % WORDS] += 1;
			a->base[page * WORDS] += 1; /* the page's total */
		}
	return NULL;
}

Test(vspace, two_threads_paging_lose_no_write)
{
	setup(0);
	struct vs_region *r =
	    region(MT_PAGES * PG, RW, MT_PAGES * PG / 8);
	uint64_t *base = vs_region_start(r);
	pthread_t t[2];
	struct mt_arg args[2] = {{base, 0}, {base, 1}};
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, mt_worker, &args[i]),
			     0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	/* Two increments per step, each exactly once. */
	uint64_t total = 0;
	for (size_t w = 0; w < MT_PAGES * WORDS; w++)
		total += base[w];
	cr_assert_eq(total, 2ull * 2 * MT_ROUNDS * (MT_PAGES / 2),
		     "every increment kept: %llu", (unsigned long long)total);
	struct vs_stats st = stats(r);
	cr_assert_gt(st.evictions, 100, "it really paged (%llu evictions)",
		     (unsigned long long)st.evictions);
	cap_ok();
}

Test(vspace, only_dirty_pages_are_written_back)
{
	setup(0);
	size_t pages = 512;
	struct vs_region *r = region(pages * PG, RW, 64 * PG);
	uint64_t *b = vs_region_start(r);
	for (size_t p = 0; p < pages; p++)
		fill(b, p, 7);
	cr_assert_eq(vs_region_evict_all(r), 0);
	struct vs_stats s0 = stats(r);
	cr_assert_eq(s0.resident, 0);
	cr_assert_eq(s0.writebacks, pages);
	for (int pass = 0; pass < 2; pass++) /* read-only passes */
		for (size_t p = 0; p < pages; p++)
			check(b, p, 7);
	struct vs_stats s1 = stats(r);
	cr_assert_eq(s1.writebacks, s0.writebacks, "a read-only pass wrote %llu",
		     (unsigned long long)(s1.writebacks - s0.writebacks));
	cr_assert_eq(s1.clean_drops - s0.clean_drops, 2 * pages - 64);
	cr_assert_eq(s1.swapins - s0.swapins, 2 * pages);
	/* One write: exactly that page goes back when evicted. */
	b[3 * WORDS] ^= 1;
	cr_assert_eq(vs_region_evict_all(r), 0);
	cr_assert_eq(stats(r).writebacks, s1.writebacks + 1);
	cr_assert_eq(b[3 * WORDS], val(3, 0, 7) ^ 1);
	cr_assert_eq(vspace_destroy(vs), 0);
}

/* ---- memory objects ------------------------------------------------- */
Test(vspace, file_region_equals_the_file)
{
	setup(0);
	char path[] = "/tmp/dune_vspace_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	size_t flen = 3 * MiB + 1000;
	char *want = malloc(flen);
	for (size_t i = 0; i < flen; i++)
		want[i] = (char)(i * 7 + i / 4096);
	cr_assert_eq(pwrite(fd, want, flen, 0), (ssize_t)flen);
	struct vs_region_attr a = {.flags = RW, .budget = 32 * PG,
				   .backing = VS_FILE, .fd = fd};
	struct vs_region *r;
	cr_assert_eq(vspace_region_create(vs, NULL, 4 * MiB, &a, &r), 0);
	const char *p = vs_region_start(r);
	cr_assert_eq(memcmp(p, want, flen), 0, "file contents");
	for (size_t i = flen; i < 4 * MiB; i++)
		cr_assert_eq(p[i], 0, "beyond EOF at %zu", i);
	/* Private: writes go to swap, never to the file. */
	((char *)vs_region_start(r))[5] = 'X';
	for (size_t i = 0; i < flen; i += PG)
		(void)*(volatile const char *)(p + i);
	cr_assert_eq(p[5], 'X');
	char c;
	cr_assert_eq(pread(fd, &c, 1, 5), 1);
	cr_assert_eq(c, want[5], "the file changed");
	struct vs_stats s = stats(r);
	cr_assert_gt(s.file_reads, 1024);
	cr_assert_eq(s.swapins, 1, "the written page came back from swap");
	cr_assert_eq(vspace_destroy(vs), 0);
	close(fd);
	free(want);
}

Test(vspace, frame_region_shows_the_frame)
{
	setup(0);
	int ram = dune_cap_ram_alloc(4 * MiB, 0, -1, DUNE_HOST_PAGES_4K);
	cr_assert_geq(ram, 0);
	int fr = dune_cap_free_slots(1);
	cr_assert_eq(dune_cap_retype(ram, DUNE_CAP_FRAME, 0, 4 * MiB, 1, fr), 0);
	uint32_t *view = dune_cap_va(fr);
	for (size_t i = 0; i < MiB; i++)
		view[i] = (uint32_t)i * 3;
	struct vs_region_attr a = {.flags = RW, .backing = VS_FRAME,
				   .frame = fr, .frame_offset = 64 * PG};
	struct vs_region *r;
	/* Not 2 MiB aligned: spans three PTs. */
	cr_assert_eq(vspace_region_create(vs, (char *)vspace_base(vs) + 3 * MiB
						  + 8 * PG,
					  3 * MiB, &a, &r),
		     0);
	uint32_t *p = vs_region_start(r);
	for (size_t i = 0; i < 3 * MiB / 4; i++)
		cr_assert_eq(p[i], (uint32_t)(i + 64 * PG / 4) * 3, "word %zu", i);
	p[10] = 0xdeadbeef;
	cr_assert_eq(view[64 * PG / 4 + 10], 0xdeadbeef);
	cr_assert_eq(stats(r).faults, 3, "one fault per table");
	cap_ok();
	cr_assert_eq(vspace_region_destroy(r), 0);
	cr_assert_eq(view[64 * PG / 4 + 10], 0xdeadbeef, "the frame stays");
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(dune_cap_delete(fr), 0);
	cr_assert_eq(dune_cap_delete(ram), 0);
	cr_assert_eq(used_bytes(), 0);
}

/* ---- 2 MiB pages ---------------------------------------------------- */
Test(vspace, large_page_region)
{
	setup(0);
	struct vs_region *r = region(16 * MiB, RW | VS_PAGE_2M, 4 * MiB);
	uint64_t *b = vs_region_start(r);
	size_t pages = 16 * MiB / PG;
	for (size_t p = 0; p < pages; p += 3)
		fill(b, p, 9);
	ptent_t *e = NULL;
	cr_assert_eq(dune_vm_lookup(NULL, b + (pages - 3) * WORDS, 0, &e), 0);
	cr_assert(*e & DUNE_PTE_PS, "a 2 MiB leaf: %#llx",
		  (unsigned long long)*e);
	cr_assert_eq(DUNE_PTE_ADDR(*e) % (2 * MiB), 0);
	for (size_t p = 0; p < pages; p += 3)
		check(b, p, 9);
	struct vs_stats s = stats(r);
	cr_assert_eq(s.faults, 16, "one fault per 2 MiB page per pass: %llu",
		     (unsigned long long)s.faults);
	cr_assert_eq(s.writebacks, 8);
	cr_assert_leq(s.resident, 2);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(used_bytes(), 0);
}

/* ---- replication ---------------------------------------------------- */
struct reader {
	uint64_t *b;
	size_t pages;
	int bind, same_frames, fresh_node;
	ptent_t *root1;
};

static int frame_node(uint64_t pa)
{
	struct dune_cap_info ci;
	for (int s = 0; s < DUNE_CAP_SLOTS; s++)
		if (!dune_cap_identify(s, &ci) && ci.type == DUNE_CAP_FRAME &&
		    ci.base == pa && ci.size == PG)
			return ci.node;
	return -2;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	rd->bind = vspace_bind(vs, 1);
	if (rd->bind)
		return NULL;
	for (size_t p = 0; p < rd->pages; p++)
		check(rd->b, p, 5);
	rd->same_frames = 1;
	for (size_t p = 0; p < rd->pages; p++) {
		ptent_t *e0, *e1;
		if (dune_vm_lookup(vspace_root(vs, 0), rd->b + p * WORDS, 0, &e0) ||
		    dune_vm_lookup(rd->root1, rd->b + p * WORDS, 0, &e1) ||
		    DUNE_PTE_ADDR(*e0) != DUNE_PTE_ADDR(*e1))
			rd->same_frames = 0;
	}
	/* A page first touched here comes from node 1 (local policy). */
	rd->b[rd->pages * WORDS] = 1;
	ptent_t *e;
	if (!dune_vm_lookup(rd->root1, rd->b + rd->pages * WORDS, 0, &e))
		rd->fresh_node = frame_node(DUNE_PTE_ADDR(*e));
	vspace_bind(vs, -1);
	return NULL;
}

Test(vspace, replicas_on_two_emulated_nodes)
{
	setenv("DUNE_NUMA_NODES", "2", 1);
	setup(VSPACE_REPLICATE);
	cr_assert_eq(vspace_nreplicas(vs), 2);
	cr_assert_neq(vspace_root(vs, 0), vspace_root(vs, 1));
	cr_assert_neq(vspace_root(vs, 1), dune_pgroot());
	cr_assert_eq(vspace_bind(vs, 0), 0);
	size_t pages = 600; /* two PTs */
	struct vs_region *r = region(4 * MiB, RW, 0);
	uint64_t *b = vs_region_start(r);
	for (size_t p = 0; p < pages; p++)
		fill(b, p, 5);
	for (int n = 0; n < 2; n++) {
		int slots[64];
		int k = vspace_vnodes(vs, n, slots, 64);
		cr_assert_eq(k, 1 + 1 + 2, "node %d: PDPT, PD, 2 PTs: %d", n, k);
		for (int i = 0; i < k; i++) {
			struct dune_cap_info ci;
			cr_assert_eq(dune_cap_identify(slots[i], &ci), 0);
			cr_assert_eq(ci.node, n, "vnode %d of replica %d on node %d",
				     i, n, ci.node);
			cr_assert(ci.type >= DUNE_CAP_VNODE_PT &&
				  ci.type <= DUNE_CAP_VNODE_PDPT);
		}
	}
	ptent_t *e;
	cr_assert_eq(dune_vm_lookup(vspace_root(vs, 0), b, 0, &e), 0);
	cr_assert_eq(frame_node(DUNE_PTE_ADDR(*e)), 0, "node 0's write: node 0");
	struct reader rd = {.b = b, .pages = pages,
			    .root1 = vspace_root(vs, 1)};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, reader_main, &rd), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(rd.bind, 0);
	cr_assert(rd.same_frames, "both replicas map the same frames");
	cr_assert_eq(rd.fresh_node, 1, "node 1's fault took node %d's frame",
		     rd.fresh_node);
	/* And node 0 sees what node 1 wrote. */
	cr_assert_eq(b[pages * WORDS], 1);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(used_bytes(), 0);
}

/* ---- faults that are not the vspace's -------------------------------- */
static int deep(int n)
{
	volatile char buf[4096];
	buf[0] = (char)n;
	buf[4095] = (char)n;
	int r = n ? deep(n - 1) : 0;
	return r + (buf[0] != (char)n) + (buf[4095] != (char)n);
}

static void *stack_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)deep(1000); /* 4 MiB of new stack */
}

Test(vspace, faults_outside_regions_still_work)
{
	setup(0);
	struct vs_region *r = region(1 * MiB, VS_R, 0);
	/* New host memory, mapped lazily by dune. */
	size_t len = 64 * MiB;
	char *m = malloc(len);
	cr_assert_not_null(m);
	for (size_t o = 0; o < len; o += PG)
		m[o] = 1;
	free(m);
	/* Stack growth (a thread with an 8 MiB stack, grown on demand). */
	pthread_t t;
	void *ret;
	cr_assert_eq(pthread_create(&t, NULL, stack_thread, NULL), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq((intptr_t)ret, 0);
	/* Real SIGSEGVs reach the program's handler: a host PROT_NONE page,
	 * a write to a read-only region, a hole in the vspace. */
	siginfo_t si;
	char *none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	cr_assert_eq(probe_access(none, 0, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, none);
	char *ro = vs_region_start(r);
	cr_assert_eq(probe_access(ro + 5, 0, NULL), 0, "readable");
	cr_assert_eq(probe_access(ro + 5, 1, &si), SIGSEGV, "read-only");
	char *hole = ro + 64 * MiB;
	cr_assert_eq(probe_access(hole, 0, &si), SIGSEGV, "outside regions");
	cr_assert_eq(si.si_addr, hole);
	struct vs_stats s;
	cr_assert_eq(vspace_stats(vs, &s), 0);
	cr_assert_geq(s.passed, 2);
	/* A forked child dies of its SIGSEGV. */
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)hole = 1;
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
	cr_assert_eq(vspace_destroy(vs), 0);
}

static volatile int cb_calls; /* changed by the fault handler */
static int cb_count(struct vs_region *r, uintptr_t addr, uint64_t fec,
		    void *arg)
{
	(void)r, (void)addr, (void)fec;
	cb_calls++;
	return *(int *)arg;
}

Test(vspace, region_callbacks)
{
	setup(0);
	int verdict = VS_CB_DEFAULT;
	struct vs_region_attr a = {.flags = RW, .cb = cb_count,
				   .cb_arg = &verdict};
	struct vs_region *r;
	cr_assert_eq(vspace_region_create(vs, NULL, 8 * PG, &a, &r), 0);
	volatile char *p = vs_region_start(r);
	p[0] = 1;
	cr_assert_eq(cb_calls, 1, "calls: %d", cb_calls);
	cr_assert_eq(p[0], 1);
	verdict = VS_CB_SEGV;
	siginfo_t si;
	cr_assert_eq(probe_access(p + PG, 0, &si), SIGSEGV);
	cr_assert_eq(cb_calls, 2);
	cr_assert_eq(vspace_destroy(vs), 0);
}

/* ---- bad arguments ------------------------------------------------- */
#define BAD(err, va, len, ...)                                                 \
	do {                                                                   \
		struct vs_region_attr a_ = {__VA_ARGS__};                      \
		struct vs_region *r_ = NULL;                                   \
		int e_ = vspace_region_create(vs, (void *)(va), (len), &a_,    \
					      &r_);                            \
		cr_assert_eq(e_, (err), "%s: %d, want %d", #__VA_ARGS__, e_,   \
			     (err));                                           \
		cr_assert_null(r_);                                            \
	} while (0)

Test(vspace, bad_arguments_change_nothing)
{
	setup(0);
	int fds = count_fds();
	char *base = vspace_base(vs);
	struct vs_region *keep = NULL;
	struct vs_region_attr ok = {.flags = RW};
	cr_assert_eq(vspace_region_create(vs, base + 4 * MiB, 2 * MiB, &ok,
					  &keep),
		     0);
	uint64_t used = used_bytes();
	int ram = dune_cap_ram_alloc(2 * MiB, 0, -1, 0);
	int fr = dune_cap_free_slots(1);
	cr_assert_eq(dune_cap_retype(ram, DUNE_CAP_FRAME, 0, 2 * MiB, 1, fr), 0);
	int ro = dune_cap_free_slots(1);
	cr_assert_eq(dune_cap_mint(fr, ro, DUNE_CAP_R), 0);
	used = used_bytes();
	int free0 = dune_cap_free_slots(1);

	BAD(-EINVAL, base, 2 * MiB, .flags = RW | 0x100);
	BAD(-EINVAL, base, 2 * MiB, .flags = 0);
	BAD(-EINVAL, base, 0, .flags = RW);
	BAD(-EINVAL, base + 100, PG, .flags = RW);
	BAD(-EINVAL, base, PG + 1, .flags = RW);
	BAD(-EINVAL, base + PG, 2 * MiB, .flags = RW | VS_PAGE_2M);
	BAD(-EINVAL, base, 3 * MiB, .flags = RW | VS_PAGE_2M);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .budget = 100);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .node = 5);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .node = -3);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = 7);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FILE, .fd = 999);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FILE, .fd = 0,
	    .file_offset = 100);
	BAD(-EEXIST, base + 5 * MiB, 2 * MiB, .flags = RW);
	BAD(-EEXIST, base + 3 * MiB, 2 * MiB, .flags = RW);
	BAD(-EEXIST, base, 16 * MiB, .flags = RW);
	BAD(-ERANGE, base - 2 * MiB, 2 * MiB, .flags = RW);
	BAD(-ERANGE, base + VSPACE_SIZE - 2 * MiB, 4 * MiB, .flags = RW);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = fr, .budget = PG);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = ram);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = -1);
	BAD(-EPERM, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = ro);
	BAD(-EPERM, base, 2 * MiB, .flags = VS_R | VS_X, .backing = VS_FRAME,
	    .frame = ro);
	BAD(-ERANGE, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = fr, .frame_offset = PG);
	BAD(-EINVAL, base, PG, .flags = RW, .backing = VS_FRAME,
	    .frame = fr, .frame_offset = 100);

	struct vspace *two;
	cr_assert_eq(vspace_create(0, &two), -EBUSY);
	cr_assert_eq(vspace_create(0x80, &two), -EINVAL);
	cr_assert_eq(vspace_bind(vs, 1), -EINVAL);
	cr_assert_eq(vspace_region_destroy(NULL), -EINVAL);

	/* Nothing changed: the same memory, slots, fds; the space is free. */
	cr_assert_eq(used_bytes(), used);
	cr_assert_eq(dune_cap_free_slots(1), free0);
	cr_assert_eq(count_fds(), fds);
	struct vs_stats s;
	cr_assert_eq(vspace_stats(vs, &s), 0);
	cr_assert_eq(s.faults, 0);
	struct vs_region *r;
	cr_assert_eq(vspace_region_create(vs, base, 4 * MiB, &ok, &r), 0);
	cr_assert_eq(vspace_region_create(vs, base + 6 * MiB, 2 * MiB, &ok, &r),
		     0);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(dune_cap_delete(ro), 0);
	cr_assert_eq(dune_cap_delete(fr), 0);
	cr_assert_eq(dune_cap_delete(ram), 0);
}

Test(vspace, not_inside_is_eperm)
{
	cr_assert_eq(dune_init(test_mode(), DUNE_INIT_QUIET), 0);
	struct vspace *v;
	cr_assert_eq(vspace_create(0, &v), -EPERM);
}

/* ---- destroy ------------------------------------------------------- */
Test(vspace, destroy_leaves_nothing)
{
	enter_or_fail(test_mode());
	int fds = count_fds();
	cr_assert_eq(used_bytes(), 0);
	int free_all = dune_cap_free_slots(DUNE_CAP_SLOTS);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(vspace_create(0, &vs), 0);
		struct vs_region *a = region(4 * MiB, RW, 64 * PG);
		struct vs_region *b = region(8 * MiB, RW | VS_PAGE_2M, 2 * MiB);
		char *pa = vs_region_start(a), *pb = vs_region_start(b);
		for (size_t o = 0; o < 4 * MiB; o += PG)
			pa[o] = 1;
		for (size_t o = 0; o < 8 * MiB; o += 2 * MiB)
			pb[o] = 1;
		cr_assert_gt(stats(a).writebacks, 0);
		cr_assert_eq(vspace_region_destroy(a), 0);
		cr_assert_eq(vspace_destroy(vs), 0);
		cr_assert_eq(count_fds(), fds, "fds after destroy");
		cr_assert_eq(used_bytes(), 0, "RAM after destroy");
		cr_assert_eq(dune_cap_free_slots(DUNE_CAP_SLOTS), free_all,
			     "every slot free again");
		cap_ok();
	}
}

/* ---- cache colours ------------------------------------------------- */
static int colours_or_skip(void)
{
	int n = vspace_colours();
	if (n < 0)
		cr_skip_test("host PFNs not readable here (/proc/self/pagemap "
			     "shows them only with CAP_SYS_ADMIN): %d", n);
	cr_assert(n >= 1 && n <= 64, "vspace_colours: %d", n);
	return n;
}

/* The host PFN under guest address va (mapped), from pagemap. */
static uint64_t host_pfn(int pm, const void *va)
{
	ptent_t *e = NULL;
	cr_assert_eq(dune_vm_lookup(NULL, (void *)(uintptr_t)va, 0, &e), 0);
	cr_assert(*e & DUNE_PTE_P);
	uint64_t hva = DUNE_PTE_ADDR(*e), ent = 0; /* gpa == hva */
	cr_assert_eq(pread(pm, &ent, 8, (off_t)(hva / PG) * 8), 8);
	cr_assert(ent >> 63, "host page at %#llx not present",
		  (unsigned long long)hva);
	return ent & ((1ull << 55) - 1);
}

/* Every resident page of r has a frame of a colour in mask; returns how
 * many were checked. */
static size_t check_colours(int pm, struct vs_region *r, uint64_t mask, int n)
{
	char *b = vs_region_start(r);
	size_t checked = 0;
	for (size_t o = 0; o < vs_region_len(r); o += PG) {
		ptent_t *e = NULL;
		if (dune_vm_lookup(NULL, b + o, 0, &e) || !(*e & DUNE_PTE_P))
			continue;
		uint64_t pfn = host_pfn(pm, b + o);
		cr_assert_neq(pfn, 0);
		cr_assert((mask >> (pfn % (uint64_t)n)) & 1,
			  "page %zu: pfn %#llx has colour %llu, mask %#llx",
			  o / PG, (unsigned long long)pfn,
			  (unsigned long long)(pfn % (uint64_t)n),
			  (unsigned long long)mask);
		checked++;
	}
	return checked;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

Test(vspace, coloured_region_gets_frames_of_its_colours)
{
	setup(0);
	int n = colours_or_skip();
	int pm = open("/proc/self/pagemap", O_RDONLY);
	cr_assert_geq(pm, 0);
	uint64_t mask = n >= 4 ? 0x9 : 1; /* colours 0 and 3 */
	size_t pages = 1024;
	struct vs_region_attr a = {.flags = RW, .node = VS_NODE_LOCAL,
				   .budget = 64 * PG, .colours = mask};
	struct vs_region *r;
	cr_assert_eq(vspace_region_create(vs, NULL, pages * PG, &a, &r), 0);
	uint64_t *b = vs_region_start(r);
	/* Data intact under paging with colours. */
	for (size_t p = 0; p < pages; p++)
		fill(b, p, 3);
	cr_assert_eq(check_colours(pm, r, mask, n), 64);
	for (size_t p = 0; p < pages; p++)
		check(b, p, 3);
	struct vs_stats s = stats(r);
	cr_assert_gt(s.evictions, pages);
	cr_assert_eq(s.writebacks, pages);
	cr_assert_eq(check_colours(pm, r, mask, n), 64);
	/* An uncoloured region next to it still works (it takes the units
	 * of other colours the search read and left free). */
	struct vs_region *u = region(256 * PG, RW, 0);
	uint64_t *ub = vs_region_start(u);
	for (size_t p = 0; p < 256; p++)
		fill(ub, p, 4);
	for (size_t p = 0; p < 256; p++)
		check(ub, p, 4);
	cap_ok();

	/* Cost: first-touch faults, coloured (one colour) vs not. */
	struct vs_region_attr one = {.flags = RW, .colours = 1ull << (n - 1)};
	struct vs_region *c1, *u1;
	cr_assert_eq(vspace_region_create(vs, NULL, 128 * PG, &one, &c1), 0);
	u1 = region(128 * PG, RW, 0);
	volatile char *pc = vs_region_start(c1), *pu = vs_region_start(u1);
	double t0 = now_us();
	for (size_t p = 0; p < 128; p++)
		pu[p * PG] = 1;
	double t1 = now_us();
	for (size_t p = 0; p < 128; p++)
		pc[p * PG] = 1;
	double t2 = now_us();
	cr_assert_eq(check_colours(pm, c1, 1ull << (n - 1), n), 128);
	cr_log_info("first-touch fault: %.1f us uncoloured, %.1f us with 1 "
		    "of %d colours (fresh memory)",
		    (t1 - t0) / 128, (t2 - t1) / 128, n);
	close(pm);
	cap_ok();
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(used_bytes(), 0);
}

Test(vspace, bad_colour_masks_change_nothing)
{
	setup(0);
	int n = colours_or_skip();
	char *base = vspace_base(vs);
	int ram = dune_cap_ram_alloc(2 * MiB, 0, -1, 0);
	int fr = dune_cap_free_slots(1);
	cr_assert_eq(dune_cap_retype(ram, DUNE_CAP_FRAME, 0, 2 * MiB, 1, fr), 0);
	int fds = count_fds();
	uint64_t used = used_bytes();
	int free0 = dune_cap_free_slots(1);

	BAD(-EINVAL, base, 2 * MiB, .flags = RW | VS_PAGE_2M, .colours = 1);
	BAD(-EINVAL, base, 2 * MiB, .flags = RW, .backing = VS_FRAME,
	    .frame = fr, .colours = 1);
	if (n < 64) {
		BAD(-EINVAL, base, 2 * MiB, .flags = RW, .colours = 1ull << n);
		BAD(-EINVAL, base, 2 * MiB, .flags = RW, .colours = ~0ull);
	}
	cr_assert_eq(used_bytes(), used);
	cr_assert_eq(dune_cap_free_slots(1), free0);
	cr_assert_eq(count_fds(), fds);
	struct vs_stats s;
	cr_assert_eq(vspace_stats(vs, &s), 0);
	cr_assert_eq(s.faults, 0);
	/* The space is free, and all n colours are a good mask. */
	struct vs_region_attr ok = {.flags = RW,
				    .colours = n == 64 ? ~0ull
						       : (1ull << n) - 1};
	struct vs_region *r;
	cr_assert_eq(vspace_region_create(vs, base, 2 * MiB, &ok, &r), 0);
	((volatile char *)base)[0] = 1;
	cr_assert_eq(stats(r).faults, 1);
	cr_assert_eq(vspace_destroy(vs), 0);
	cr_assert_eq(dune_cap_delete(fr), 0);
	cr_assert_eq(dune_cap_delete(ram), 0);
}

/* Without CAP_SYS_ADMIN pagemap shows PFNs as 0: colouring says so. */
Test(vspace, colours_without_pfns_are_enotsup)
{
	setup(0);
	colours_or_skip();
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	cr_assert_eq(syscall(SYS_capget, &h, d), 0);
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
	cr_assert_eq(syscall(SYS_capset, &h, d), 0);
	cr_assert_eq(vspace_colours(), -ENOTSUP);
	BAD(-ENOTSUP, NULL, 2 * MiB, .flags = RW, .colours = 1);
	struct vs_region *r = region(2 * MiB, RW, 0); /* uncoloured: fine */
	((volatile char *)vs_region_start(r))[0] = 1;
	cr_assert_eq(vspace_destroy(vs), 0);
}
