/* tests/kvm/test_memory.c: the address space after entry: mmap growth to
 * 1 GiB (every page touched), munmap, mprotect, mremap, brk; faults reach
 * the program's own SIGSEGV handler with the native si_addr/si_code. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

#define PG 4096ul
#define MIB (1ul << 20)

static uint64_t pattern(uint64_t addr)
{
	return addr * 0x9e3779b97f4a7c15ull;
}

Test(memory, mmap_1gib_every_page_touched, .timeout = 60)
{
	enum { CHUNKS = 16 };
	const size_t chunk = 64 * MIB; /* 16 x 64 MiB = 1 GiB */
	char *c[CHUNKS];
	struct dune_stats s0, s1, s2;
	enter_or_fail(test_mode());
	dune_get_stats(&s0);
	for (int i = 0; i < CHUNKS; i++) {
		c[i] = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(c[i], MAP_FAILED, "mmap chunk %d: %s", i,
			      strerror(errno));
		for (size_t off = 0; off < chunk; off += PG) {
			uint64_t *w = (uint64_t *)(c[i] + off);
			w[0] = pattern((uint64_t)(uintptr_t)w);
			w[PG / 8 - 1] = ~pattern((uint64_t)(uintptr_t)w);
		}
	}
	dune_get_stats(&s1);
	/* The guest can only have touched 1 GiB if memslots cover it. */
	cr_assert_geq(s1.memslot_bytes, s0.memslot_bytes + CHUNKS * chunk,
		      "memslots cover %llu bytes, was %llu",
		      (unsigned long long)s1.memslot_bytes,
		      (unsigned long long)s0.memslot_bytes);
	/* Read everything back only after all of it is mapped: catches two
	 * guest pages aliasing one host page. */
	for (int i = 0; i < CHUNKS; i++) {
		for (size_t off = 0; off < chunk; off += PG) {
			uint64_t *w = (uint64_t *)(c[i] + off);
			uint64_t want = pattern((uint64_t)(uintptr_t)w);
			if (w[0] != want || w[PG / 8 - 1] != ~want)
				cr_assert_fail("page %p: read %#llx/%#llx, wrote "
					 "%#llx/%#llx",
					 (void *)w, (unsigned long long)w[0],
					 (unsigned long long)w[PG / 8 - 1],
					 (unsigned long long)want,
					 (unsigned long long)~want);
		}
	}
	for (int i = 0; i < CHUNKS; i++)
		cr_assert_eq(munmap(c[i], chunk), 0);
	dune_get_stats(&s2);
	cr_assert_leq(s2.memslot_bytes, s1.memslot_bytes - CHUNKS * chunk,
		      "munmap left memslots over the freed 1 GiB");
}

Test(memory, munmap_then_access_is_sigsegv)
{
	enter_or_fail(test_mode());
	char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 7, 3 * PG);
	cr_assert_eq(munmap(p + PG, PG), 0);
	siginfo_t si;
	int sig = probe_access(p + PG + 100, 0, &si);
	cr_assert_eq(sig, SIGSEGV, "read of an unmapped page gave signal %d",
		     sig);
	cr_assert_eq(si.si_addr, (void *)(p + PG + 100), "si_addr %p want %p",
		     si.si_addr, (void *)(p + PG + 100));
	cr_assert_eq(si.si_code, SEGV_MAPERR);
	cr_assert_eq(probe_access(p + PG, 1, &si), SIGSEGV, "write");
	cr_assert_eq(si.si_addr, (void *)(p + PG));
	/* The neighbours are intact and usable. */
	cr_assert_eq(p[0], 7);
	cr_assert_eq(p[2 * PG + PG - 1], 7);
	cr_assert_eq(probe_access(p, 1, NULL), 0);
	cr_assert_eq(probe_access(p + 2 * PG, 1, NULL), 0);
	cr_assert_eq(munmap(p, 3 * PG), 0);
	cr_assert_eq(probe_access(p, 0, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)p);
}

Test(memory, mprotect_none_gives_sigsegv_with_si_addr)
{
	enter_or_fail(test_mode());
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (int i = 0; i < 4; i++)
		p[i * PG] = (char)(i + 1);
	cr_assert_eq(mprotect(p + PG, 2 * PG, PROT_NONE), 0);

	siginfo_t si;
	struct dune_stats s0, s1;
	char *at = p + PG + 123;
	dune_get_stats(&s0);
	cr_assert_eq(probe_access(at, 0, &si), SIGSEGV, "read of PROT_NONE");
	dune_get_stats(&s1);
	/* The guest's fault became a signal frame built by the vmm. */
	cr_assert_geq(s1.faults, s0.faults + 1, "no guest fault counted");
	cr_assert_geq(s1.signals, s0.signals + 1, "no signal delivered");
	cr_assert_eq(si.si_signo, SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)at, "si_addr %p want %p", si.si_addr,
		     (void *)at);
	cr_assert_eq(si.si_code, SEGV_ACCERR, "si_code %d", si.si_code);
	at = p + 3 * PG - 1;
	cr_assert_eq(probe_access(at, 1, &si), SIGSEGV, "write of PROT_NONE");
	cr_assert_eq(si.si_addr, (void *)at);
	cr_assert_eq(si.si_code, SEGV_ACCERR);
	/* Neighbours unaffected. */
	cr_assert_eq(probe_access(p, 1, NULL), 0);
	cr_assert_eq(probe_access(p + 3 * PG, 1, NULL), 0);

	/* Read-only: reads work, writes fault. */
	cr_assert_eq(mprotect(p + PG, 2 * PG, PROT_READ), 0);
	cr_assert_eq(p[PG], 2, "data lost across mprotect");
	cr_assert_eq(probe_access(p + 2 * PG + 8, 1, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)(p + 2 * PG + 8));
	cr_assert_eq(si.si_code, SEGV_ACCERR);

	/* Back to read-write. */
	cr_assert_eq(mprotect(p + PG, 2 * PG, PROT_READ | PROT_WRITE), 0);
	cr_assert_eq(probe_access(p + 2 * PG + 8, 1, NULL), 0);
	cr_assert_eq(p[2 * PG + 8], 0x5a);
	cr_assert_eq(p[2 * PG], 3);
	/* The handler is the program's: a second fault after recovery is
	 * delivered again (the mask was restored by siglongjmp). */
	cr_assert_eq(mprotect(p, PG, PROT_NONE), 0);
	cr_assert_eq(probe_access(p, 0, &si), SIGSEGV);
	cr_assert_eq(probe_access(p, 0, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)p);
	munmap(p, 4 * PG);
}

Test(memory, mremap_grow_keeps_data)
{
	enter_or_fail(test_mode());
	char *p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (size_t off = 0; off < 4 * MIB; off += PG)
		p[off] = (char)(off / PG);
	char *q = mremap(p, 4 * MIB, 64 * MIB, MREMAP_MAYMOVE);
	cr_assert_neq(q, MAP_FAILED, "mremap: %s", strerror(errno));
	for (size_t off = 0; off < 4 * MIB; off += PG)
		cr_assert_eq(q[off], (char)(off / PG), "offset %zu", off);
	for (size_t off = 4 * MIB; off < 64 * MIB; off += PG)
		q[off] = 1;
	cr_assert_eq(q[64 * MIB - PG], 1);
	if (q != p)
		cr_assert_eq(probe_access(p, 0, NULL), SIGSEGV,
			     "the old range of a moved mremap is still mapped");
	munmap(q, 64 * MIB);
}

Test(memory, brk_and_sbrk_growth)
{
	enter_or_fail(test_mode());
	char *base = sbrk(0);
	cr_assert_neq(base, (void *)-1);
	/* Grow in 16 steps of 4 MiB, writing every page. */
	for (int i = 0; i < 16; i++) {
		char *p = sbrk(4 * MIB);
		cr_assert_neq(p, (void *)-1, "sbrk step %d: %s", i,
			      strerror(errno));
		cr_assert_eq(p, base + (size_t)i * 4 * MIB);
		for (size_t off = 0; off < 4 * MIB; off += PG)
			p[off] = (char)(i + 1);
	}
	char *top = sbrk(0);
	cr_assert_eq(top, base + 64 * MIB);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(base[(size_t)i * 4 * MIB + 3 * PG], (char)(i + 1));
	/* brk() directly: shrink back; the released pages are gone. */
	cr_assert_eq(brk(base), 0);
	cr_assert_eq(sbrk(0), base);
	char *gone = (char *)(((uintptr_t)base + PG - 1) & ~(PG - 1)) + 16 * PG;
	siginfo_t si;
	cr_assert_eq(probe_access(gone, 0, &si), SIGSEGV,
		     "memory above the shrunk break is still accessible");
	cr_assert_eq(si.si_addr, (void *)gone);
	/* And it can grow again, fresh (zeroed) memory. */
	char *again = sbrk(32 * PG);
	cr_assert_eq(again, base);
	cr_assert_eq(gone[0], 0);
	gone[0] = 9;
	cr_assert_eq(gone[0], 9);
	cr_assert_eq(brk(base), 0);
}

/* A reservation larger than the eager limit is mapped lazily, chunk by
 * chunk on first touch: far-apart pages work and the memslots stay small. */
Test(memory, huge_sparse_reservation_is_lazy, .timeout = 30)
{
	const size_t len = 16ul << 30; /* 16 GiB */
	struct dune_stats s0, s1;
	enter_or_fail(test_mode());
	dune_get_stats(&s0);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap 16 GiB: %s", strerror(errno));
	size_t offs[] = {0, 5ul << 30, (9ul << 30) + 12345, len - 1};
	for (int i = 0; i < 4; i++)
		p[offs[i]] = (char)(i + 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(p[offs[i]], (char)(i + 1), "offset %zu", offs[i]);
	dune_get_stats(&s1);
	cr_assert_lt(s1.memslot_bytes, s0.memslot_bytes + (256ul << 20),
		     "a 16 GiB reservation got %llu bytes of memslots for 4 "
		     "touched pages",
		     (unsigned long long)(s1.memslot_bytes - s0.memslot_bytes));
	cr_assert_eq(munmap(p, len), 0);
	cr_assert_eq(probe_access(p + offs[1], 0, NULL), SIGSEGV);
}

static __attribute__((noinline)) long deep(int depth)
{
	volatile char frame[64 * 1024];
	frame[0] = (char)depth;
	frame[sizeof(frame) - 1] = (char)depth;
	long r = depth ? deep(depth - 1) : 0;
	return r + frame[0] + frame[sizeof(frame) - 1];
}

/* The main stack grows on demand in the guest as natively (4 MiB here,
 * below the usual 8 MiB limit). */
Test(memory, stack_grows_on_demand)
{
	enter_or_fail(test_mode());
	long want = 0;
	for (int d = 0; d <= 64; d++)
		want += 2 * (char)d;
	cr_assert_eq(deep(64), want);
}
