/* tests/kvm/test_vm.c: dune/vm.h in ring-3 mode: every dune_vm_* call with
 * valid and invalid arguments (an invalid call returns the error dune/vm.h
 * names and changes nothing: page-table snapshots before and after), 4 KiB
 * and 2 MiB pages, guest-only memory inside a host PROT_NONE reservation,
 * the TLB after every change, accessed/dirty bits, clone and copy-on-write,
 * and no VM exit for any of it. Ring-0 variants need VT-x/AMD-V. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dune/abi.h"
#include "dune/dune.h"
#include "dune/trap.h"
#include "dune/vm.h"
#include "helpers.h"
#include "vmtest.h"

/* Unmapped natively and under ASan (see ring0_payload.h), 1 GiB aligned. */
#define FAR_VA ((char *)0x300000000000ull)
#define USER_END (1ull << 47)
#define P DUNE_PTE_P
#define W DUNE_PTE_W
#define U DUNE_PTE_U

static struct pt_snap before, after;

/* The leaf entry for va (a large one inside a large page), 0 if none. */
static ptent_t leaf(ptent_t *root, const void *va)
{
	ptent_t *e = NULL;
	int r = dune_vm_lookup(root, (void *)(uintptr_t)va, 0, &e);
	if (r == -ENOENT)
		return 0;
	cr_assert_eq(r, 0, "lookup %p: %d", va, r);
	return *e;
}

/* `call` must return `err` and leave the leaves of [lo, lo+len) as they
 * were. */
#define FAILS_UNCHANGED(root, lo, len, err, call)                             \
	do {                                                                   \
		snap(root, &before, lo, len);                                  \
		long r_ = (long)(call);                                        \
		cr_assert_eq(r_, (long)(err),                                  \
			     "%s returned %ld, want %s (the range held %zu "   \
			     "leaves before, the first at %#lx)",             \
			     #call, r_, #err, before.n,                        \
			     before.n ? (unsigned long)before.va[0] : 0ul);    \
		snap(root, &after, lo, len);                                   \
		assert_snap_eq(&before, &after, #call);                        \
	} while (0)

static int readable(const void *p)
{
	return probe_access((volatile char *)(uintptr_t)p, 0, NULL) == 0;
}

static int writable(void *p)
{
	return probe_access((volatile char *)p, 1, NULL) == 0;
}

/* ---- before dune_init ---------------------------------------------------- */
Test(vm, every_call_before_dune_init_is_eperm)
{
	ptent_t *e = NULL;
	uintptr_t out[1];
	struct pt_snap *s = &before;
	cr_assert_null(dune_pgroot());
	cr_assert_eq(dune_vm_map_pages(NULL, FAR_VA, PG, RW), -EPERM);
	cr_assert_eq(dune_vm_map_phys(NULL, FAR_VA, PG, FAR_VA, RW), -EPERM);
	cr_assert_eq(dune_vm_unmap(NULL, FAR_VA, PG), -EPERM);
	cr_assert_eq(dune_vm_mprotect(NULL, FAR_VA, PG, RO), -EPERM);
	cr_assert_eq(dune_vm_lookup(NULL, FAR_VA, 1, &e), -EPERM);
	cr_assert_null(e);
	cr_assert_eq(dune_vm_page_walk(NULL, FAR_VA, FAR_VA + PG, snap_cb, s),
		     -EPERM);
	cr_assert_eq(dune_vm_test_and_clear_accessed(NULL, FAR_VA), -EPERM);
	cr_assert_eq(dune_vm_test_and_clear_dirty(NULL, FAR_VA), -EPERM);
	cr_assert_eq(dune_vm_scan_dirty(NULL, FAR_VA, PG, out, 1, 1), -EPERM);
	cr_assert_null(dune_vm_clone(NULL));
	cr_assert_null(dune_vm_new_root());
	cr_assert_null(dune_page_alloc());
	cr_assert_eq(dune_vm_default_pgflt_handler((uintptr_t)FAR_VA,
						   DUNE_PF_W | DUNE_PF_P),
		     -EFAULT);
	dune_vm_free(NULL);
	dune_page_free(NULL);
	/* Outside the guest there is no guest TLB: flushes do nothing. */
	dune_flush_tlb_one((uintptr_t)FAR_VA);
	dune_flush_tlb_range((uintptr_t)FAR_VA, 64 * PG);
	dune_flush_tlb();
}

Test(vm, set_root_before_dune_init_is_eperm)
{
	ptent_t dummy[512];
	cr_assert_eq(dune_set_root(dummy), -EPERM,
		     "dune/vm.h: -EPERM when dune_init() was not called");
}

Test(vm, set_root_errors)
{
	cr_assert_eq(dune_init(test_mode(), DUNE_INIT_QUIET), 0);
	cr_assert_eq(dune_set_root(NULL), -EINVAL);
	/* Initialized but not entered: there is no vCPU to switch. */
	cr_assert_eq(dune_set_root(dune_pgroot()), -EPERM);
	cr_assert_eq(dune_enter(), 0);
	cr_assert_eq(dune_set_root(NULL), -EINVAL);
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_set_root(dune_pgroot()), 0);
	cr_assert_eq(exits_now(), x0, "set_root cost a VM exit");
}

/* ---- map_pages ----------------------------------------------------------- */
Test(vm, map_pages_4k_is_guest_only_zeroed_memory)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(LPG), *va = r + PG;
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_map_pages(root, va, 4 * PG, RW), 0);
	cr_assert_eq(exits_now(), x0, "map_pages cost a VM exit");
	uintptr_t frames[4];
	for (int i = 0; i < 4; i++) {
		char *p = va + i * PG;
		ptent_t e = leaf(root, p);
		cr_assert_eq(e & (P | W | U | DUNE_PTE_NX | DUNE_PTE_PS),
			     P | W | U | DUNE_PTE_NX, "page %d: pte %#llx", i,
			     (unsigned long long)e);
		frames[i] = DUNE_PTE_ADDR(e);
		cr_assert_neq(frames[i], (uintptr_t)p,
			      "a fresh frame, not the host page");
		for (int j = 0; j < i; j++)
			cr_assert_neq(frames[i], frames[j]);
		for (size_t k = 0; k < PG; k += 256)
			cr_assert_eq(p[k], 0, "not zeroed at %p", p + k);
		memset(p, 0x10 + i, PG);
		/* The frame is the page's memory (the pool is user-readable). */
		cr_assert_eq(*(volatile char *)frames[i], 0x10 + i);
	}
	cr_assert_eq(exits_now(), x0, "touching the pages cost a VM exit");
	/* The host still has a PROT_NONE reservation with nothing in it. */
	cr_assert_eq(host_prot(va), 0);
	unsigned char vec[4];
	cr_assert_eq(mincore(va, 4 * PG, vec), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(vec[i] & 1, 0, "host page %d became resident", i);
	/* Only the range was mapped. */
	cr_assert_eq(leaf(root, va - PG) & P, 0);
	cr_assert_eq(leaf(root, va + 4 * PG) & P, 0);
	/* Mapping again replaces the pages with fresh zeroed ones. */
	cr_assert_eq(dune_vm_map_pages(root, va, PG, RW), 0);
	cr_assert_eq(va[0], 0);
	cr_assert_eq(va[PG], 0x11);
}

Test(vm, map_pages_perm_bits)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(LPG);
	static const struct {
		int perm;
		ptent_t want, mask;
	} c[] = {
		{RO, P | U | DUNE_PTE_NX, P | W | U | DUNE_PTE_NX},
		{RW | PERM_X, P | W | U, P | W | U | DUNE_PTE_NX},
		{RW | PERM_UC, P | (1ull << 3) | (1ull << 4), P | (3ull << 3)},
		{RW | PERM_USR1 | PERM_USR2 | PERM_USR3, P | (7ull << 9),
		 P | (7ull << 9)},
		{RW | PERM_COW, P | U | DUNE_PTE_COW, P | W | U | DUNE_PTE_COW},
		{PERM_R, P, P | U},
		{PERM_NONE, 0, P},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *va = r + i * PG;
		cr_assert_eq(dune_vm_map_pages(root, va, PG, c[i].perm), 0,
			     "perm %#x", c[i].perm);
		ptent_t *e;
		cr_assert_eq(dune_vm_lookup(root, va, 0, &e), 0);
		cr_assert_eq(*e & c[i].mask, c[i].want,
			     "perm %#x: pte %#llx", c[i].perm,
			     (unsigned long long)*e);
	}
	/* Semantics: read-only (CR0.WP: for ring 0 too), supervisor-only
	 * (readable from ring 0 only), not present. */
	cr_assert(readable(r));
	cr_assert_not(writable(r));
	cr_assert_eq(readable(r + 5 * PG), dune_get_mode() == DUNE_MODE_RING0,
		     "a page without PERM_U in mode %d", dune_get_mode());
	cr_assert_not(readable(r + 6 * PG), "a PERM_NONE page");
	cr_assert(writable(r + PG));
}

Test(vm, map_pages_2m)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_map_pages(root, r, 2 * LPG, RW | PERM_BIG), 0);
	cr_assert_eq(exits_now(), x0, "map_pages cost a VM exit");
	ptent_t e0 = leaf(root, r), e1 = leaf(root, r + LPG);
	cr_assert_eq(e0 & (P | W | U | DUNE_PTE_PS), P | W | U | DUNE_PTE_PS);
	cr_assert_eq(DUNE_PTE_ADDR(e0) & (LPG - 1), 0, "frame not 2 MiB aligned");
	cr_assert_neq(DUNE_PTE_ADDR(e0), DUNE_PTE_ADDR(e1));
	/* Any address inside resolves to the large entry. */
	cr_assert_eq(leaf(root, r + LPG / 2 + 123) & ~(DUNE_PTE_A | DUNE_PTE_D),
		     e0 & ~(DUNE_PTE_A | DUNE_PTE_D));
	for (size_t off = 0; off < 2 * LPG; off += PG) {
		cr_assert_eq(r[off], 0);
		r[off] = (char)(off / PG);
	}
	cr_assert_eq(*(volatile char *)(DUNE_PTE_ADDR(e0) + 7 * PG), 7);
	cr_assert_eq(exits_now(), x0, "touching the pages cost a VM exit");
	snap(root, &before, r, 2 * LPG);
	cr_assert_eq(before.n, 2, "one leaf per 2 MiB page");
	cr_assert(before.pte[0] & DUNE_PTE_PS);
}

Test(vm, map_pages_invalid_arguments_change_nothing)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	struct dune_host_info hi;
	cr_assert_eq(dune_host_info(&hi), 0);
	/* [0] a 2 MiB page, [1] 4 KiB pages, [2] [3] free, [4] a 4 KiB page,
	 * [5] free, [6] a 2 MiB page, [7] free. */
	char *r = reserve(8 * LPG);
	size_t len = 8 * LPG;
	cr_assert_eq(dune_vm_map_pages(root, r, LPG, RW | PERM_BIG), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + LPG, 4 * PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + 4 * LPG + 8 * PG, PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + 6 * LPG, LPG, RW | PERM_BIG),
		     0);
	char *f = r + 2 * LPG;

	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f + 1, PG, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, PG + 1, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, 0, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, PG, RW | 0x40));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, PG, RW | 0x4000));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, LPG,
					  RW | PERM_BIG | PERM_BIG_1GB));
	/* 2 MiB pages: va and len must be 2 MiB multiples. */
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f + PG, LPG, RW | PERM_BIG));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, LPG + PG, RW | PERM_BIG));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_pages(root, f, PG, RW | PERM_BIG));
	/* Wrapping and the user half. */
	FAILS_UNCHANGED(root, r, len, -EOVERFLOW,
			dune_vm_map_pages(root, (void *)-PG, 2 * PG, RW));
	FAILS_UNCHANGED(root, r, len, -EFAULT,
			dune_vm_map_pages(root, (void *)USER_END, PG, RW));
	FAILS_UNCHANGED(root, r, len, -EFAULT,
			dune_vm_map_pages(root, (void *)(USER_END - PG),
					  2 * PG, RW));
	/* 4 KiB inside a large page; a large page over a table. */
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_pages(root, r + 8 * PG, PG, RW));
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_pages(root, r + LPG, LPG, RW | PERM_BIG));
	/* Validated before acting: the free part is not mapped either. */
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_pages(root, f, 3 * LPG, RW | PERM_BIG));
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_pages(root, r + 6 * LPG - 2 * PG, 4 * PG,
					  RW));
	/* 1 GiB pages need CPUID pdpe1gb. */
	if (!hi.gbpages)
		FAILS_UNCHANGED(root, FAR_VA, 1ul << 30, -ENOTSUP,
				dune_vm_map_pages(root, FAR_VA, 1ul << 30,
						  RW | PERM_BIG_1GB));
	/* More 4 KiB frames than the pool has (checked before mapping). */
	FAILS_UNCHANGED(root, FAR_VA, 1ul << 40, -ENOMEM,
			dune_vm_map_pages(root, FAR_VA, 1ul << 40, RW));
	/* The good case still works afterwards. */
	cr_assert_eq(dune_vm_map_pages(root, f, LPG, RW | PERM_BIG), 0);
}

Test(vm, map_pages_2m_out_of_frames_changes_nothing)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	/* 512 GiB of 2 MiB pages: far more than the pool holds. */
	FAILS_UNCHANGED(root, FAR_VA, 1ul << 39, -ENOMEM,
			dune_vm_map_pages(root, FAR_VA, 1ul << 39,
					  RW | PERM_BIG));
	/* And the frames it may have taken came back. */
	char *r = reserve(4 * LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, 4 * LPG, RW | PERM_BIG), 0);
}

/* ---- map_phys ------------------------------------------------------------ */
Test(vm, map_phys_aliases_process_memory)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *host = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(host, MAP_FAILED);
	for (int i = 0; i < 4; i++)
		memset(host + i * PG, 'a' + i, PG);
	char *alias = reserve(LPG);
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_map_phys(root, alias, 4 * PG, host, RW), 0);
	cr_assert_eq(exits_now(), x0, "map_phys cost a VM exit");
	for (int i = 0; i < 4; i++) {
		ptent_t e = leaf(root, alias + i * PG);
		cr_assert_eq(DUNE_PTE_ADDR(e), (uintptr_t)(host + i * PG));
		cr_assert_eq(alias[i * PG + 9], 'a' + i);
	}
	alias[PG + 5] = 'X';
	cr_assert_eq(host[PG + 5], 'X', "a write through the alias");
	host[3 * PG] = 'Y';
	cr_assert_eq(alias[3 * PG], 'Y', "a write to the original");
	cr_assert_eq(host_prot(alias), 0);
	/* A read-only alias of writable memory. */
	cr_assert_eq(dune_vm_map_phys(root, alias + 8 * PG, PG, host, RO), 0);
	cr_assert_eq(alias[8 * PG], 'a');
	cr_assert_not(writable(alias + 8 * PG));
}

Test(vm, map_phys_2m)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *raw = mmap(NULL, 2 * LPG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(raw, MAP_FAILED);
	char *host = (char *)(((uintptr_t)raw + LPG - 1) & ~(LPG - 1));
	for (size_t off = 0; off < LPG; off += PG)
		host[off] = (char)(off / PG);
	char *alias = reserve(LPG);
	cr_assert_eq(dune_vm_map_phys(root, alias, LPG, host, RW | PERM_BIG), 0);
	ptent_t e = leaf(root, alias + 3 * PG);
	cr_assert(e & DUNE_PTE_PS);
	cr_assert_eq(DUNE_PTE_ADDR(e), (uintptr_t)host);
	for (size_t off = 0; off < LPG; off += PG)
		cr_assert_eq(alias[off], (char)(off / PG), "offset %zu", off);
	alias[LPG - 1] = 'Z';
	cr_assert_eq(host[LPG - 1], 'Z');
}

Test(vm, map_phys_invalid_arguments_change_nothing)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *host = mmap(NULL, 2 * LPG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(host, MAP_FAILED);
	char *r = reserve(4 * LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, LPG, RW | PERM_BIG), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + LPG, PG, RW), 0);
	char *f = r + 2 * LPG, *hp = (char *)(((uintptr_t)host + LPG - 1) &
					      ~(LPG - 1));
	size_t len = 4 * LPG;
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_phys(root, f, PG, host + 1, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_phys(root, f, LPG, hp + PG, RW | PERM_BIG));
	FAILS_UNCHANGED(root, r, len, -EOVERFLOW,
			dune_vm_map_phys(root, f, 2 * PG, (void *)-PG, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_phys(root, f + 8, PG, host, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_phys(root, f, 0, host, RW));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_map_phys(root, f, PG, host, RW | 0x80));
	FAILS_UNCHANGED(root, r, len, -EOVERFLOW,
			dune_vm_map_phys(root, (void *)-PG, 2 * PG, host, RW));
	FAILS_UNCHANGED(root, r, len, -EFAULT,
			dune_vm_map_phys(root, (void *)USER_END, PG, host, RW));
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_phys(root, r + PG, PG, host, RW));
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_map_phys(root, r + LPG, LPG, hp, RW | PERM_BIG));
	struct dune_host_info hi;
	cr_assert_eq(dune_host_info(&hi), 0);
	if (!hi.gbpages)
		FAILS_UNCHANGED(root, FAR_VA, 1ul << 30, -ENOTSUP,
				dune_vm_map_phys(root, FAR_VA, 1ul << 30,
						 FAR_VA, RW | PERM_BIG_1GB));
}

/* ---- unmap --------------------------------------------------------------- */
Test(vm, unmap_4k_and_split_2m)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, 4 * PG, RW), 0);
	for (int i = 0; i < 4; i++)
		r[i * PG] = (char)(i + 1);
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_unmap(root, r + PG, PG), 0);
	/* Nothing mapped: nothing to do, no error. */
	cr_assert_eq(dune_vm_unmap(root, r + 64 * PG, 16 * PG), 0);
	cr_assert_eq(exits_now(), x0, "unmap cost a VM exit");
	cr_assert_eq(leaf(root, r + PG) & P, 0);
	siginfo_t si;
	cr_assert_eq(probe_access(r + PG + 100, 0, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)(r + PG + 100));
	cr_assert_eq(r[0], 1);
	cr_assert_eq(r[2 * PG], 3);
	cr_assert_eq(r[3 * PG], 4);

	/* A 4 KiB hole in a 2 MiB page: the rest keeps its frames. */
	char *b = r + LPG;
	cr_assert_eq(dune_vm_map_pages(root, b, LPG, RW | PERM_BIG), 0);
	uintptr_t frame = DUNE_PTE_ADDR(leaf(root, b));
	for (size_t off = 0; off < LPG; off += PG)
		b[off] = (char)(off / PG);
	cr_assert_eq(dune_vm_unmap(root, b + 5 * PG, PG), 0);
	ptent_t e4 = leaf(root, b + 4 * PG), e6 = leaf(root, b + 6 * PG);
	cr_assert_eq(e4 & (P | DUNE_PTE_PS), P, "split into 4 KiB entries");
	cr_assert_eq(DUNE_PTE_ADDR(e4), frame + 4 * PG);
	cr_assert_eq(DUNE_PTE_ADDR(e6), frame + 6 * PG);
	cr_assert_eq(leaf(root, b + 5 * PG) & P, 0);
	for (size_t off = 0; off < LPG; off += PG)
		if (off != 5 * PG)
			cr_assert_eq(b[off], (char)(off / PG), "offset %zu",
				     off);
	cr_assert_not(readable(b + 5 * PG));
	/* Mapped again: fresh zeroed memory. */
	cr_assert_eq(dune_vm_map_pages(root, r + PG, PG, RW), 0);
	cr_assert_eq(r[PG], 0);
	/* The whole range. */
	cr_assert_eq(dune_vm_unmap(root, r, 2 * LPG), 0);
	snap(root, &after, r, 2 * LPG);
	cr_assert_eq(after.n, 0);
	cr_assert_not(readable(b));
}

Test(vm, unmap_invalid_arguments_change_nothing)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, 4 * PG, RW), 0);
	FAILS_UNCHANGED(root, r, LPG, -EINVAL, dune_vm_unmap(root, r, 0));
	FAILS_UNCHANGED(root, r, LPG, -EINVAL, dune_vm_unmap(root, r + 1, PG));
	FAILS_UNCHANGED(root, r, LPG, -EINVAL, dune_vm_unmap(root, r, PG - 1));
	FAILS_UNCHANGED(root, r, LPG, -EOVERFLOW,
			dune_vm_unmap(root, (void *)-PG, 2 * PG));
	FAILS_UNCHANGED(root, r, LPG, -EFAULT,
			dune_vm_unmap(root, (void *)USER_END, PG));
	FAILS_UNCHANGED(root, r, LPG, -EFAULT,
			dune_vm_unmap(root, (void *)(USER_END - PG), 2 * PG));
}

/* ---- mprotect ------------------------------------------------------------ */
Test(vm, mprotect_4k_and_2m)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, 4 * PG, RW), 0);
	for (int i = 0; i < 4; i++)
		r[i * PG] = (char)(i + 1);
	uintptr_t frame = DUNE_PTE_ADDR(leaf(root, r));
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_mprotect(root, r, 2 * PG, RO), 0);
	cr_assert_eq(exits_now(), x0, "mprotect cost a VM exit");
	ptent_t e = leaf(root, r);
	cr_assert_eq(e & (P | W | U), P | U);
	cr_assert(e & DUNE_PTE_D, "mprotect dropped the dirty bit");
	cr_assert_eq(DUNE_PTE_ADDR(e), frame);
	siginfo_t si;
	cr_assert_eq(probe_access(r + PG + 7, 1, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)(r + PG + 7));
	cr_assert_eq(si.si_code, SEGV_ACCERR);
	cr_assert_eq(r[PG], 2, "read of a read-only page");
	cr_assert(writable(r + 2 * PG), "outside the range");
	/* PERM_NONE: not present, the mapping (frame) is kept. */
	cr_assert_eq(dune_vm_mprotect(root, r, PG, PERM_NONE), 0);
	e = leaf(root, r);
	cr_assert_eq(e & P, 0);
	cr_assert_eq(DUNE_PTE_ADDR(e), frame);
	cr_assert_not(readable(r));
	cr_assert_eq(dune_vm_mprotect(root, r, 4 * PG, RW), 0);
	cr_assert_eq(r[0], 1, "data lost across PERM_NONE");
	cr_assert(writable(r + PG));
	/* Pages not present are skipped, not created. */
	cr_assert_eq(dune_vm_mprotect(root, r, 16 * PG, RO), 0);
	for (int i = 4; i < 16; i++)
		cr_assert_eq(leaf(root, r + i * PG), 0, "page %d appeared", i);
	/* PERM_X clears NX. */
	cr_assert_eq(dune_vm_mprotect(root, r, PG, RO | PERM_X), 0);
	cr_assert_eq(leaf(root, r) & DUNE_PTE_NX, 0);
	/* A whole 2 MiB page. */
	char *b = r + LPG;
	cr_assert_eq(dune_vm_map_pages(root, b, LPG, RW | PERM_BIG), 0);
	b[LPG - 1] = 9;
	cr_assert_eq(dune_vm_mprotect(root, b, LPG, RO), 0);
	e = leaf(root, b);
	cr_assert_eq(e & (P | W | DUNE_PTE_PS), P | DUNE_PTE_PS);
	cr_assert_not(writable(b + 3 * PG));
	cr_assert_eq(b[LPG - 1], 9);
	cr_assert_eq(dune_vm_mprotect(root, b, LPG, RW), 0);
	cr_assert(writable(b + 3 * PG));
}

Test(vm, mprotect_invalid_arguments_change_nothing)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(4 * LPG);
	size_t len = 4 * LPG;
	cr_assert_eq(dune_vm_map_pages(root, r + LPG - 4 * PG, 4 * PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + LPG, LPG, RW | PERM_BIG), 0);
	FAILS_UNCHANGED(root, r, len, -EINVAL, dune_vm_mprotect(root, r, 0, RO));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_mprotect(root, r + 3, PG, RO));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_mprotect(root, r, PG + 3, RO));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_mprotect(root, r, PG, RO | 0x40));
	FAILS_UNCHANGED(root, r, len, -EINVAL,
			dune_vm_mprotect(root, r + LPG, LPG, RO | PERM_BIG));
	FAILS_UNCHANGED(root, r, len, -EOVERFLOW,
			dune_vm_mprotect(root, (void *)-PG, 2 * PG, RO));
	FAILS_UNCHANGED(root, r, len, -EFAULT,
			dune_vm_mprotect(root, (void *)USER_END, PG, RO));
	/* Part of a large page. */
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_mprotect(root, r + LPG + PG, PG, RO));
	/* Validated before acting: the 4 KiB pages in front keep RW. */
	FAILS_UNCHANGED(root, r, len, -EBUSY,
			dune_vm_mprotect(root, r + LPG - 4 * PG, 8 * PG, RO));
}

/* ---- lookup -------------------------------------------------------------- */
Test(vm, lookup_create_and_edit_the_pte_directly)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	ptent_t *e = (ptent_t *)1;
	/* No table yet. */
	cr_assert_eq(dune_vm_lookup(root, r, 0, &e), -ENOENT);
	cr_assert_eq(e, (ptent_t *)1, "pte_out written on -ENOENT");
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_lookup(root, r, 1, &e), 0);
	cr_assert_not_null(e);
	cr_assert_eq(*e, 0, "a new slot is empty");
	ptent_t *e2;
	cr_assert_eq(dune_vm_lookup(root, r, 0, &e2), 0);
	cr_assert_eq(e2, e, "the same slot without create");
	/* The app writes the PTE itself, then flushes. */
	char *frame = dune_page_alloc();
	cr_assert_not_null(frame);
	strcpy(frame, "direct");
	*e = (uintptr_t)frame | P | W | U | DUNE_PTE_NX;
	dune_flush_tlb_one((uintptr_t)r);
	cr_assert_str_eq(r, "direct");
	r[0] = 'D';
	cr_assert_eq(frame[0], 'D');
	cr_assert_eq(exits_now(), x0, "lookup/edit/flush cost a VM exit");
	/* Inside a large page: the large entry, or -EBUSY with create. */
	char *b = r + LPG;
	cr_assert_eq(dune_vm_map_pages(root, b, LPG, RW | PERM_BIG), 0);
	cr_assert_eq(dune_vm_lookup(root, b + 9 * PG, 0, &e), 0);
	cr_assert(*e & DUNE_PTE_PS);
	cr_assert_eq(DUNE_PTE_ADDR(*e), DUNE_PTE_ADDR(leaf(root, b)));
	FAILS_UNCHANGED(root, r, 2 * LPG, -EBUSY,
			dune_vm_lookup(root, b + 9 * PG, 1, &e));
	FAILS_UNCHANGED(root, r, 2 * LPG, -EFAULT,
			dune_vm_lookup(root, (void *)USER_END, 1, &e));
	cr_assert_eq(dune_vm_lookup(root, (void *)USER_END, 0, &e), -EFAULT);
	cr_assert_eq(dune_vm_lookup(root, (void *)-PG, 0, &e), -EFAULT);
}

/* ---- page_walk ----------------------------------------------------------- */
struct walk_stop {
	int calls, stop_at;
};

static int stop_cb(const void *arg, ptent_t *e, void *va)
{
	struct walk_stop *w = (struct walk_stop *)(uintptr_t)arg;
	(void)e;
	(void)va;
	return ++w->calls == w->stop_at ? 7 : 0;
}

Test(vm, page_walk_order_bounds_and_stop)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(4 * LPG), *t = r + LPG;
	cr_assert_eq(dune_vm_map_pages(root, r, LPG, RW | PERM_BIG), 0);
	cr_assert_eq(dune_vm_map_pages(root, t + 5 * PG, PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, t, PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, t + 2 * PG, PG, RO), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + 3 * LPG, LPG, RO | PERM_BIG),
		     0);
	uint64_t x0 = exits_now();
	snap(root, &before, r, 4 * LPG);
	cr_assert_eq(exits_now(), x0, "page_walk cost a VM exit");
	uintptr_t want[] = {(uintptr_t)r, (uintptr_t)t, (uintptr_t)t + 2 * PG,
			    (uintptr_t)t + 5 * PG, (uintptr_t)r + 3 * LPG};
	cr_assert_eq(before.n, 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(before.va[i], want[i], "leaf %d at %#lx", i,
			     (unsigned long)before.va[i]);
		cr_assert_eq(before.pte[i], leaf(root, (void *)want[i]));
	}
	/* [start, end): end is excluded. */
	snap(root, &after, t + PG, 4 * PG);
	cr_assert_eq(after.n, 1);
	cr_assert_eq(after.va[0], (uintptr_t)t + 2 * PG);
	snap(root, &after, t, 0);
	cr_assert_eq(after.n, 0, "an empty range");
	/* A non-zero return stops the walk and is returned. */
	struct walk_stop w = {0, 2};
	cr_assert_eq(dune_vm_page_walk(root, r, r + 4 * LPG, stop_cb, &w), 7);
	cr_assert_eq(w.calls, 2);
	/* start > end. */
	w.calls = 0;
	cr_assert_eq(dune_vm_page_walk(root, t, r, stop_cb, &w), -EINVAL);
	cr_assert_eq(w.calls, 0);
	/* NULL root: the process's table. */
	struct walk_stop w2 = {0, 0};
	cr_assert_eq(dune_vm_page_walk(NULL, r, r + 4 * LPG, stop_cb, &w2), 0);
	cr_assert_eq(w2.calls, 5);
}

Test(vm, page_walk_outside_user_half_is_efault)
{
	enter_or_fail(test_mode());
	struct walk_stop w = {0, 0};
	cr_assert_eq(dune_vm_page_walk(dune_pgroot(), FAR_VA,
				       (void *)(USER_END + PG), stop_cb, &w),
		     -EFAULT, "dune/vm.h: -EFAULT, range outside the user half");
	cr_assert_eq(w.calls, 0);
}

Test(vm, page_walk_reports_only_present_leaves)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(LPG);
	cr_assert_eq(dune_vm_map_pages(root, r, 2 * PG, RW), 0);
	cr_assert_eq(dune_vm_mprotect(root, r + PG, PG, PERM_NONE), 0);
	snap(root, &before, r, LPG);
	cr_assert_eq(before.n, 1, "dune/vm.h: cb for each *present* leaf; "
		     "got %zu leaves (a PERM_NONE page is not present)",
		     before.n);
}

/* ---- clone / new_root / free --------------------------------------------- */
Test(vm, clone_and_free_a_new_root)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	uint64_t x0 = exits_now();
	ptent_t *nr = dune_vm_new_root();
	cr_assert_not_null(nr);
	cr_assert_neq(nr, root);
	/* It maps none of the process. */
	static int global;
	int local;
	cr_assert_eq(leaf(nr, &global) & P, 0);
	cr_assert_eq(leaf(nr, &local) & P, 0);
	cr_assert_eq(dune_vm_map_pages(nr, r, 2 * PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(nr, r + 2 * PG, PG, RO), 0);
	cr_assert_eq(dune_vm_map_pages(nr, r + LPG, LPG, RW | PERM_BIG), 0);
	cr_assert_eq(leaf(root, r), 0, "mapped in another root");
	ptent_t o[3] = {leaf(nr, r), leaf(nr, r + 2 * PG), leaf(nr, r + LPG)};

	ptent_t *c = dune_vm_clone(nr);
	cr_assert_not_null(c);
	cr_assert_neq(c, nr);
	char *va[3] = {r, r + 2 * PG, r + LPG};
	for (int i = 0; i < 3; i++) {
		ptent_t a = leaf(nr, va[i]), b = leaf(c, va[i]);
		cr_assert_eq(DUNE_PTE_ADDR(a), DUNE_PTE_ADDR(o[i]));
		cr_assert_eq(DUNE_PTE_ADDR(b), DUNE_PTE_ADDR(o[i]),
			     "the clone translates %p elsewhere", va[i]);
		cr_assert_eq(a & DUNE_PTE_PS, o[i] & DUNE_PTE_PS);
		cr_assert_eq(b & DUNE_PTE_PS, o[i] & DUNE_PTE_PS);
		if (o[i] & W) { /* writable: read-only COW in both */
			cr_assert_eq(a & (W | DUNE_PTE_COW), DUNE_PTE_COW);
			cr_assert_eq(b & (W | DUNE_PTE_COW), DUNE_PTE_COW);
		} else {
			cr_assert_eq(a, o[i]);
			cr_assert_eq(b, o[i]);
		}
	}
	/* Separate tables: changing the clone leaves the source alone. */
	ptent_t *ea, *eb;
	cr_assert_eq(dune_vm_lookup(nr, r, 0, &ea), 0);
	cr_assert_eq(dune_vm_lookup(c, r, 0, &eb), 0);
	cr_assert_neq(ea, eb);
	cr_assert_eq(dune_vm_unmap(c, r, PG), 0);
	cr_assert(leaf(nr, r) & P);
	dune_vm_free(c);
	dune_vm_free(nr);
	cr_assert_eq(exits_now(), x0, "clone/new_root/free cost a VM exit");
	/* The process's own root and NULL are refused silently. */
	dune_vm_free(root);
	dune_vm_free(NULL);
	global = 5;
	cr_assert_eq(global, 5);
	cr_assert(leaf(root, &global) & P);
}

/* COW with the process's own root: clone, switch, write, switch back. The
 * test ends the process itself (exit code = verdict): after the clone,
 * writes in either root copy pages into guest-only frames, so the host's
 * view of the process's memory (Criterion's too) is no longer the guest's. */
#define COW_OK 42
static volatile int cow_faults, cow_unresolved;

static void cow_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void)tf;
	/* Resolve first: after a clone the counters below are COW pages
	 * themselves, and writing them first would fault again. */
	int r = dune_vm_default_pgflt_handler(addr, fec);
	cow_faults++;
	if (r) {
		cow_unresolved++;
		dune_register_pgflt_handler(NULL); /* let it become a signal */
	}
}

/* This thread on a clone and back. What it writes on the clone (its stack
 * and counters too) stays the clone's, and switching back resumes the state
 * the original holds (dune/vm.h), so dune_set_root(c) returns twice, like
 * fork(): on the clone, then again on the original when the clone calls
 * dune_set_root(orig). The clone's page table tells the two apart: the
 * pool is never copy-on-write, so both see it alike. (Code running on a
 * clone with dune_jump_to_user(): tests/kvm/test_cow.c.) */
Test(vm, cow_after_clone_set_root_and_back, .timeout = 30)
{
	enter_or_fail(test_mode());
	char *buf = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	strcpy(buf, "original");
	cr_assert_eq(dune_register_pgflt_handler(cow_handler), 0);
	ptent_t *orig = dune_pgroot(), *c = dune_vm_clone(orig), *e;
	cr_assert_not_null(c);
	cr_assert_eq(dune_vm_lookup(c, buf, 0, &e), 0);
	cr_assert_eq(*e & (W | DUNE_PTE_COW), DUNE_PTE_COW);
	uint64_t x0 = exits_now();
	int r = dune_set_root(c);
	if (!(*e & W)) {
		/* On the clone: no asserts here (their state would be the
		 * clone's). The write copies the page (cow_handler). */
		strcpy(buf, "clone");
		dune_set_root(orig); /* resumes after dune_set_root(c) */
		syscall(SYS_exit_group, 3); /* not reached */
	}
	/* On the original again. */
	uint64_t x = exits_now() - x0;
	cr_assert_eq(r, 0);
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	cr_assert_str_eq(buf, "original", "the clone's write shows in the "
			 "original");
	cr_assert_eq(*e & (W | DUNE_PTE_COW), W, "the clone's page was not "
		     "copied on write");
	cr_assert_neq(DUNE_PTE_ADDR(*e), (uintptr_t)buf);
	cr_assert_str_eq((char *)(uintptr_t)DUNE_PTE_ADDR(*e), "clone");
	cr_assert_eq(x, 0, "%llu VM exits on the clone and back",
		     (unsigned long long)x);
	dune_vm_free(c);
}

Test(vm, default_pgflt_handler_copies_a_cow_page)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *host = mmap(NULL, 3 * LPG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(host, MAP_FAILED);
	char *h2 = (char *)(((uintptr_t)host + LPG - 1) & ~(LPG - 1));
	strcpy(host, "shared");
	strcpy(h2 + LPG - 8, "big");
	char *r = reserve(2 * LPG);
	cr_assert_eq(dune_vm_map_phys(root, r, PG, host, RW | PERM_COW), 0);
	cr_assert_eq(dune_vm_map_phys(root, r + LPG, LPG, h2,
				      RW | PERM_COW | PERM_BIG), 0);
	cr_assert_eq(leaf(root, r) & (W | DUNE_PTE_COW), DUNE_PTE_COW);
	cr_assert_str_eq(r, "shared");
	/* Not COW, not a write, not mapped: -EFAULT. */
	cr_assert_eq(dune_vm_default_pgflt_handler((uintptr_t)r, DUNE_PF_P |
						   DUNE_PF_U), -EFAULT);
	cr_assert_eq(dune_vm_default_pgflt_handler((uintptr_t)(r + PG),
						   DUNE_PF_W | DUNE_PF_U),
		     -EFAULT);
	cr_assert_eq(dune_vm_default_pgflt_handler((uintptr_t)host,
						   DUNE_PF_P | DUNE_PF_W |
						       DUNE_PF_U),
		     -EFAULT);
	cr_assert_eq(leaf(root, r) & (W | DUNE_PTE_COW), DUNE_PTE_COW);

	cr_assert_eq(dune_register_pgflt_handler(cow_handler), 0);
	uint64_t x0 = exits_now();
	r[0] = 'S';
	r[LPG + LPG - 8] = 'B';
	cr_assert_eq(exits_now(), x0, "a handled COW fault cost a VM exit");
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	cr_assert_eq(cow_faults, 2);
	cr_assert_eq(cow_unresolved, 0);
	cr_assert_str_eq(r, "Shared");
	cr_assert_str_eq(host, "shared", "the COW write reached the original");
	cr_assert_str_eq(r + 2 * LPG - 8, "Big");
	cr_assert_str_eq(h2 + LPG - 8, "big");
	ptent_t e = leaf(root, r);
	cr_assert_eq(e & (W | DUNE_PTE_COW), W);
	cr_assert_neq(DUNE_PTE_ADDR(e), (uintptr_t)host);
	e = leaf(root, r + LPG);
	cr_assert_eq(e & (W | DUNE_PTE_COW | DUNE_PTE_PS), W | DUNE_PTE_PS);
	/* Written: no longer COW. */
	cr_assert_eq(dune_vm_default_pgflt_handler((uintptr_t)r, DUNE_PF_P |
						   DUNE_PF_W | DUNE_PF_U),
		     -EFAULT);
}

/* ---- page pool ----------------------------------------------------------- */
Test(vm, page_alloc_and_free)
{
	enter_or_fail(test_mode());
	char *p = dune_page_alloc();
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p & (PG - 1), 0);
	for (size_t k = 0; k < PG; k++)
		cr_assert_eq(p[k], 0);
	memset(p, 0x77, PG);
	char *r = reserve(LPG);
	cr_assert_eq(dune_vm_map_phys(dune_pgroot(), r, PG, p, RO), 0);
	cr_assert_eq(r[100], 0x77);
	cr_assert_eq(dune_vm_unmap(dune_pgroot(), r, PG), 0);
	dune_page_free(p);
	char *q = dune_page_alloc();
	cr_assert_not_null(q);
	for (size_t k = 0; k < PG; k++)
		cr_assert_eq(q[k], 0, "a reused frame is not zeroed");
	dune_page_free(NULL);
}

/* ---- accessed / dirty bits ----------------------------------------------- */
Test(vm, accessed_and_dirty_bits)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG);
	volatile char *v = r;
	cr_assert_eq(dune_vm_map_pages(root, r, 4 * PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, r + LPG, LPG, RW | PERM_BIG), 0);
	uint64_t x0 = exits_now();
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r), 0, "fresh: A");
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r), 0, "fresh: D");
	(void)v[10];
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r), 0, "D on a read");
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r), 1, "A on a read");
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r), 0, "not cleared");
	(void)v[11];
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r + 11), 1,
		     "A not set again after clearing");
	v[PG + 1] = 1;
	cr_assert_eq(leaf(root, r + PG) & (DUNE_PTE_A | DUNE_PTE_D),
		     DUNE_PTE_A | DUNE_PTE_D);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + PG), 1);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + PG), 0);
	cr_assert_eq(leaf(root, r + PG) & DUNE_PTE_D, 0);
	v[PG + 2] = 2;
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + PG), 1,
		     "D not set again after clearing");
	/* Neighbours are not affected. */
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r + 2 * PG), 0);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + 3 * PG), 0);
	/* A 2 MiB page has one pair of bits. */
	v[LPG + 5 * PG] = 3;
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + LPG + 9 * PG), 1);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + LPG), 0);
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r + LPG), 1);
	v[2 * LPG - 1] = 4;
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, r + LPG), 1);
	cr_assert_eq(exits_now(), x0, "A/D operations cost a VM exit");
	/* Not mapped, not present, outside the user half. */
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r + 8 * PG), -ENOENT);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, FAR_VA), -ENOENT);
	cr_assert_eq(dune_vm_mprotect(root, r, PG, PERM_NONE), 0);
	cr_assert_eq(dune_vm_test_and_clear_accessed(root, r), -ENOENT);
	cr_assert_eq(dune_vm_test_and_clear_dirty(root, (void *)USER_END),
		     -EFAULT);
}

static void assert_scan(ptent_t *root, void *va, size_t len, int clear,
			const uintptr_t *want, long n)
{
	uintptr_t out[128];
	long got = dune_vm_scan_dirty(root, va, len, out, 128, clear);
	cr_assert_eq(got, n, "scan_dirty returned %ld pages, want %ld", got, n);
	for (long i = 0; i < n; i++)
		cr_assert_eq(out[i], want[i], "dirty page %ld: %#lx, want %#lx",
			     i, (unsigned long)out[i], (unsigned long)want[i]);
}

Test(vm, scan_dirty_returns_exactly_the_written_pages)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot();
	char *r = reserve(2 * LPG), *b = r + LPG;
	volatile char *v = r;
	uintptr_t a = (uintptr_t)r, out[4];
	cr_assert_eq(dune_vm_map_pages(root, r, 64 * PG, RW), 0);
	cr_assert_eq(dune_vm_map_pages(root, b, LPG, RW | PERM_BIG), 0);
	uint64_t x0 = exits_now();
	assert_scan(root, r, 2 * LPG, 0, NULL, 0);
	static const int wr[] = {3, 10, 11, 40, 63};
	for (int i = 0; i < 5; i++)
		v[wr[i] * PG + 17] = 1;
	(void)v[5 * PG]; /* a read is not a write */
	uintptr_t want[] = {a + 3 * PG, a + 10 * PG, a + 11 * PG, a + 40 * PG,
			    a + 63 * PG};
	assert_scan(root, r, 2 * LPG, 0, want, 5);
	assert_scan(root, r, 2 * LPG, 0, want, 5); /* clear=0 keeps them */
	assert_scan(root, r, 2 * LPG, 1, want, 5);
	assert_scan(root, r, 2 * LPG, 0, NULL, 0);
	/* Only what was written since the last clearing scan; a page written
	 * again right after being cleared is seen again (TLB flushed). */
	v[10 * PG] = 2;
	v[12 * PG] = 2;
	uintptr_t want2[] = {a + 10 * PG, a + 12 * PG};
	assert_scan(root, r, 2 * LPG, 1, want2, 2);
	v[10 * PG] = 3;
	assert_scan(root, r, 2 * LPG, 1, want2, 1);
	/* A sub-range. */
	v[3 * PG] = 4;
	v[20 * PG] = 4;
	uintptr_t want3[] = {a + 20 * PG};
	assert_scan(root, r + 8 * PG, 16 * PG, 1, want3, 1);
	uintptr_t want4[] = {a + 3 * PG};
	assert_scan(root, r, 2 * LPG, 1, want4, 1);
	/* max: the first max pages, the rest stays dirty. */
	v[PG] = v[2 * PG] = v[4 * PG] = 5;
	cr_assert_eq(dune_vm_scan_dirty(root, r, 2 * LPG, out, 2, 1), 2);
	cr_assert_eq(out[0], a + PG);
	cr_assert_eq(out[1], a + 2 * PG);
	uintptr_t want5[] = {a + 4 * PG};
	assert_scan(root, r, 2 * LPG, 1, want5, 1);
	/* A 2 MiB page is one entry at its base. */
	v[LPG + 7 * PG] = 6;
	uintptr_t want6[] = {(uintptr_t)b};
	assert_scan(root, r, 2 * LPG, 1, want6, 1);
	assert_scan(root, r, 2 * LPG, 1, NULL, 0);
	/* Tables whose A bit a clean clearing scan dropped are still
	 * scanned after a later write. */
	(void)v[30 * PG];
	assert_scan(root, r, 2 * LPG, 1, NULL, 0);
	v[30 * PG] = 7;
	uintptr_t want7[] = {a + 30 * PG};
	assert_scan(root, r, 2 * LPG, 1, want7, 1);
	cr_assert_eq(exits_now(), x0, "scanning cost a VM exit");
	/* Errors. */
	cr_assert_eq(dune_vm_scan_dirty(root, r, 0, out, 4, 1), -EINVAL);
	cr_assert_eq(dune_vm_scan_dirty(root, r + 1, PG, out, 4, 1), -EINVAL);
	cr_assert_eq(dune_vm_scan_dirty(root, r, PG + 1, out, 4, 1), -EINVAL);
	cr_assert_eq(dune_vm_scan_dirty(root, (void *)-PG, 2 * PG, out, 4, 1),
		     -EOVERFLOW);
	cr_assert_eq(dune_vm_scan_dirty(root, (void *)USER_END, PG, out, 4, 1),
		     -EFAULT);
}

/* ---- TLB ----------------------------------------------------------------- */
/* The same page through every kind of change, each followed at once by an
 * access that must see it (the TLB holds the previous translation). */
static void tlb_sequence(int mode)
{
	enter_or_fail(mode);
	ptent_t *root = dune_pgroot();
	char *r = reserve(LPG);
	char *f2 = dune_page_alloc(), *f3 = dune_page_alloc();
	cr_assert(f2 && f3);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(dune_vm_map_pages(root, r, PG, RW), 0);
		r[0] = 'a';
		cr_assert_eq(r[0], 'a');
		cr_assert_eq(dune_vm_mprotect(root, r, PG, RO), 0);
		cr_assert_not(writable(r), "round %d: write after RO", round);
		cr_assert_eq(r[0], 'a');
		cr_assert_eq(dune_vm_mprotect(root, r, PG, RW), 0);
		cr_assert(writable(r), "round %d: write after RW", round);
		cr_assert_eq(dune_vm_mprotect(root, r, PG, PERM_NONE), 0);
		cr_assert_not(readable(r), "round %d: read after NONE", round);
		cr_assert_eq(dune_vm_mprotect(root, r, PG, RW), 0);
		cr_assert_eq(r[0], 0x5a, "round %d: data after NONE", round);
		cr_assert_eq(dune_vm_unmap(root, r, PG), 0);
		cr_assert_not(readable(r), "round %d: read after unmap", round);
		f2[0] = 'z';
		cr_assert_eq(dune_vm_map_phys(root, r, PG, f2, RW), 0);
		cr_assert_eq(r[0], 'z', "round %d: map_phys", round);
		/* Direct PTE edits, then each kind of flush. */
		ptent_t *e;
		cr_assert_eq(dune_vm_lookup(root, r, 0, &e), 0);
		f3[0] = (char)('0' + round);
		*e = (uintptr_t)f3 | P | U | DUNE_PTE_NX;
		dune_flush_tlb_one((uintptr_t)r);
		cr_assert_eq(r[0], '0' + round, "round %d: flush_tlb_one", round);
		cr_assert_not(writable(r));
		*e |= W;
		dune_flush_tlb_range((uintptr_t)r, PG);
		cr_assert(writable(r), "round %d: flush_tlb_range", round);
		*e = 0;
		dune_flush_tlb();
		cr_assert_not(readable(r), "round %d: flush_tlb", round);
	}
}

Test(vm, tlb_is_correct_after_every_change)
{
	tlb_sequence(test_mode());
}

/* ---- exits --------------------------------------------------------------- */
Test(vm, no_vm_exit_for_pte_changes_and_flushes)
{
	enter_or_fail(test_mode());
	ptent_t *root = dune_pgroot(), *e;
	char *r = reserve(4 * LPG);
	uintptr_t out[8];
	uint64_t x0 = exits_now();
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(dune_vm_map_pages(root, r, 16 * PG, RW), 0);
		cr_assert_eq(dune_vm_map_pages(root, r + LPG, LPG,
					       RW | PERM_BIG), 0);
		r[i] = 1;
		r[LPG + i] = 1;
		cr_assert_eq(dune_vm_mprotect(root, r, 16 * PG, RO), 0);
		cr_assert_eq(dune_vm_mprotect(root, r + LPG, LPG, RO), 0);
		cr_assert_eq(dune_vm_lookup(root, r + 2 * LPG, 1, &e), 0);
		cr_assert_eq(dune_vm_test_and_clear_accessed(root, r), 1);
		cr_assert_eq(dune_vm_test_and_clear_dirty(root, r), 1);
		cr_assert_geq(dune_vm_scan_dirty(root, r, 4 * LPG, out, 8, 1),
			      1);
		snap(root, &before, r, 4 * LPG);
		dune_flush_tlb_one((uintptr_t)r);
		dune_flush_tlb_range((uintptr_t)r, 8 * PG);
		dune_flush_tlb_range((uintptr_t)r, 64 * PG);
		dune_flush_tlb();
		cr_assert_eq(dune_set_root(root), 0);
		cr_assert_eq(dune_vm_unmap(root, r, 4 * LPG), 0);
	}
	uint64_t x = exits_now() - x0;
	cr_assert_eq(x, 0, "%llu VM exits for 20 rounds of PTE changes and "
		     "flushes", (unsigned long long)x);
}
