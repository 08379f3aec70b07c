/* tests/unit/test_cap.c: the capability space (guestlib/cap.c) on a fake
 * 64 MiB guest-physical memory, without KVM: every operation valid and
 * invalid (invalid ones change nothing), and a random-operation property
 * test under the invariant checker. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cap.h"
#include "pt_x86_64.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define MEM_SIZE (64 * MIB)

/* Physical memory [0, MEM_SIZE) is the buffer; above it every page is one
 * scratch page (only frames live there: the 1 GiB install test). */
static uint8_t *mem, *mem_snap, *scratch;
static struct gl_cap slots[GL_CAP_SLOTS], slots_snap[GL_CAP_SLOTS];
static struct gl_cap_space cs;
static int ram; /* slot of the 64 MiB authority RAM */

static void *mem_va(void *ctx, uint64_t pa)
{
	(void)ctx;
	cr_assert_eq(pa & (PAGE_SIZE - 1), 0, "pa %#llx not page aligned",
		     (unsigned long long)pa);
	return pa < MEM_SIZE ? mem + pa : scratch;
}

static void setup(void)
{
	mem = aligned_alloc(PAGE_SIZE, MEM_SIZE);
	mem_snap = malloc(MEM_SIZE);
	scratch = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	cr_assert(mem && mem_snap && scratch);
	/* Garbage everywhere: new objects must be zeroed by retype. */
	memset(mem, 0xa5, MEM_SIZE);
	memset(slots, 0, sizeof(slots));
	cs = (struct gl_cap_space){
	    .slots = slots, .nslots = GL_CAP_SLOTS, .pa_to_va = mem_va};
	ram = gl_cap_create_ram(&cs, 0, MEM_SIZE, GL_CAP_ALL);
	cr_assert_eq(ram, 0);
}

static void teardown(void)
{
	free(mem);
	free(mem_snap);
	free(scratch);
}

TestSuite(cap, .init = setup, .fini = teardown);

/* Run `call`, expect -err and no change at all (caps, memory, ids). */
#define EXPECT_ERR(err, call)                                                  \
	do {                                                                   \
		memcpy(slots_snap, slots, sizeof(slots));                      \
		memcpy(mem_snap, mem, MEM_SIZE);                               \
		uint32_t obj_snap = cs.next_obj;                               \
		int r_ = (call);                                               \
		cr_assert_eq(r_, -(err), "%s: got %d, want %d", #call, r_,     \
			     -(err));                                          \
		cr_assert(!memcmp(slots, slots_snap, sizeof(slots)),           \
			  "%s changed the caps", #call);                       \
		cr_assert(!memcmp(mem, mem_snap, MEM_SIZE),                    \
			  "%s changed memory", #call);                         \
		cr_assert_eq(cs.next_obj, obj_snap);                           \
		cr_assert_eq(gl_cap_check(&cs), 0, "%s", cs.why);              \
	} while (0)

#define OK(call)                                                               \
	do {                                                                   \
		int r_ = (call);                                               \
		cr_assert_eq(r_, 0, "%s: got %d", #call, r_);                  \
		cr_assert_eq(gl_cap_check(&cs), 0, "after %s: %s", #call,      \
			     cs.why);                                          \
	} while (0)

static uint64_t *table(int slot)
{
	return (uint64_t *)(mem + slots[slot].base);
}

/* A PML4, PDPT, PD and PT (slots 10..13) from the first 16 KiB, and four
 * 4 KiB frames (slots 20..23) after them. */
static void make_tables(void)
{
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PML4, 0, PAGE_SIZE, 1, 10));
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PDPT, PAGE_SIZE, PAGE_SIZE, 1,
			 11));
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PD, 2 * PAGE_SIZE, PAGE_SIZE, 1,
			 12));
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PT, 3 * PAGE_SIZE, PAGE_SIZE, 1,
			 13));
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 4 * PAGE_SIZE, PAGE_SIZE, 4,
			 20));
}

Test(cap, create_ram)
{
	struct gl_cap_info in;
	OK(gl_cap_identify(&cs, ram, &in));
	cr_assert_eq(in.type, GL_CAP_RAM);
	cr_assert_eq(in.base, 0);
	cr_assert_eq(in.size, MEM_SIZE);
	cr_assert_eq(in.rights, GL_CAP_ALL);
	EXPECT_ERR(EINVAL, gl_cap_create_ram(&cs, MEM_SIZE + 1, MIB, 0));
	EXPECT_ERR(EINVAL, gl_cap_create_ram(&cs, MEM_SIZE, 0, 0));
	EXPECT_ERR(EINVAL, gl_cap_create_ram(&cs, MEM_SIZE, MIB, 0x10));
	EXPECT_ERR(EBUSY, gl_cap_create_ram(&cs, MEM_SIZE - MIB, 2 * MIB, 0));
	cr_assert_eq(gl_cap_create_ram(&cs, MEM_SIZE, MIB, GL_CAP_R), 1);
	/* A full space. */
	struct gl_cap small[1] = {0};
	struct gl_cap_space one = {
	    .slots = small, .nslots = 1, .pa_to_va = mem_va};
	cr_assert_eq(gl_cap_create_ram(&one, 0, MIB, 0), 0);
	cr_assert_eq(gl_cap_create_ram(&one, MIB, MIB, 0), -ENOSPC);
}

Test(cap, retype_valid_zeroes)
{
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 8 * MIB, 2 * MIB, 3, 5));
	for (int i = 0; i < 3; i++) {
		struct gl_cap_info in;
		OK(gl_cap_identify(&cs, 5 + i, &in));
		cr_assert_eq(in.type, GL_CAP_FRAME);
		cr_assert_eq(in.base, 8 * MIB + i * 2 * MIB);
		cr_assert_eq(in.size, 2 * MIB);
		cr_assert_eq(in.rights, GL_CAP_ALL);
	}
	for (uint64_t i = 8 * MIB; i < 14 * MIB; i++)
		cr_assert_eq(mem[i], 0, "byte %#llx not zeroed",
			     (unsigned long long)i);
	cr_assert_eq(mem[8 * MIB - 1], 0xa5);
	cr_assert_eq(mem[14 * MIB], 0xa5);
	/* Frame into smaller frames. */
	OK(gl_cap_retype(&cs, 5, GL_CAP_FRAME, PAGE_SIZE, 3 * PAGE_SIZE, 2, 9));
	/* RAM into RAM, then into a vnode. */
	OK(gl_cap_retype(&cs, ram, GL_CAP_RAM, 32 * MIB, MIB, 1, 11));
	OK(gl_cap_retype(&cs, 11, GL_CAP_VNODE_PT, 0, PAGE_SIZE, 1, 12));
}

Test(cap, retype_invalid)
{
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 0, 2 * PAGE_SIZE, 1, 5));
	EXPECT_ERR(EBADF,
		   gl_cap_retype(&cs, 7, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EBADF,
		   gl_cap_retype(&cs, -1, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EBADF, gl_cap_retype(&cs, GL_CAP_SLOTS, GL_CAP_FRAME, 0,
					PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL,
		   gl_cap_retype(&cs, 5, GL_CAP_VNODE_PT, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL,
		   gl_cap_retype(&cs, 5, GL_CAP_RAM, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL,
		   gl_cap_retype(&cs, ram, GL_CAP_NULL, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL, gl_cap_retype(&cs, ram, 99, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB + 512,
					 PAGE_SIZE, 1, 8));
	EXPECT_ERR(EINVAL, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB,
					 PAGE_SIZE + 8, 1, 8));
	EXPECT_ERR(EINVAL, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, 0, 1, 8));
	EXPECT_ERR(EINVAL,
		   gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, PAGE_SIZE, 0, 8));
	EXPECT_ERR(EINVAL, gl_cap_retype(&cs, ram, GL_CAP_VNODE_PD, MIB,
					 2 * PAGE_SIZE, 1, 8));
	EXPECT_ERR(ERANGE, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MEM_SIZE - MIB,
					 MIB, 2, 8));
	EXPECT_ERR(ERANGE, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MEM_SIZE,
					 PAGE_SIZE, 1, 8));
	EXPECT_ERR(ERANGE, gl_cap_retype(&cs, ram, GL_CAP_FRAME, PAGE_SIZE,
					 1ull << 62, 8, 8));
	EXPECT_ERR(EEXIST,
		   gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, PAGE_SIZE, 2, 4));
	EXPECT_ERR(EBADF, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, PAGE_SIZE,
					2, GL_CAP_SLOTS - 1));
	EXPECT_ERR(EBADF, gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, PAGE_SIZE,
					1, -1));
}

Test(cap, retype_overlap)
{
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, MIB, 2 * PAGE_SIZE, 1, 5));
	/* The same bytes can't become a page table too... */
	EXPECT_ERR(EBUSY, gl_cap_retype(&cs, ram, GL_CAP_VNODE_PT,
					MIB + PAGE_SIZE, PAGE_SIZE, 1, 6));
	/* ...nor again a frame, nor through a copy of the RAM cap. */
	EXPECT_ERR(EBUSY,
		   gl_cap_retype(&cs, ram, GL_CAP_FRAME, 0, 2 * MIB, 1, 6));
	OK(gl_cap_copy(&cs, ram, 7));
	EXPECT_ERR(EBUSY, gl_cap_retype(&cs, 7, GL_CAP_VNODE_PT, MIB, PAGE_SIZE,
					1, 6));
	/* Adjacent is fine. */
	OK(gl_cap_retype(&cs, 7, GL_CAP_VNODE_PT, MIB + 2 * PAGE_SIZE,
			 PAGE_SIZE, 1, 6));
	/* A frame's children: frames that may overlap the frame itself. */
	OK(gl_cap_retype(&cs, 5, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 8));
	EXPECT_ERR(EBUSY,
		   gl_cap_retype(&cs, 5, GL_CAP_FRAME, 0, 2 * PAGE_SIZE, 1, 9));
	/* After the descendant is gone the range is free again. */
	OK(gl_cap_delete(&cs, 6));
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PD, MIB + 2 * PAGE_SIZE,
			 PAGE_SIZE, 1, 6));
}

Test(cap, copy_mint)
{
	struct gl_cap_info in;
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 5));
	OK(gl_cap_copy(&cs, 5, 6));
	OK(gl_cap_identify(&cs, 6, &in));
	cr_assert_eq(in.rights, GL_CAP_ALL);
	cr_assert_eq(in.type, GL_CAP_FRAME);
	OK(gl_cap_mint(&cs, 6, 7, GL_CAP_R | GL_CAP_X));
	OK(gl_cap_identify(&cs, 7, &in));
	cr_assert_eq(in.rights, GL_CAP_R | GL_CAP_X);
	OK(gl_cap_mint(&cs, 7, 8, GL_CAP_R));
	EXPECT_ERR(EPERM, gl_cap_mint(&cs, 7, 9, GL_CAP_R | GL_CAP_W));
	EXPECT_ERR(EPERM, gl_cap_mint(&cs, 8, 9, GL_CAP_GRANT));
	EXPECT_ERR(EINVAL, gl_cap_mint(&cs, 7, 9, 0x40));
	EXPECT_ERR(EEXIST, gl_cap_mint(&cs, 7, 8, GL_CAP_R));
	EXPECT_ERR(EEXIST, gl_cap_copy(&cs, 7, 5));
	EXPECT_ERR(EBADF, gl_cap_copy(&cs, 9, 10));
	EXPECT_ERR(EBADF, gl_cap_copy(&cs, 5, GL_CAP_SLOTS));
	EXPECT_ERR(EBADF, gl_cap_mint(&cs, 5, -5, 0));
	/* The copy of a copy is still the same object: mapping and
	 * deleting the original leaves the copies. */
	OK(gl_cap_delete(&cs, 5));
	OK(gl_cap_identify(&cs, 8, &in));
	EXPECT_ERR(EBADF, gl_cap_identify(&cs, 5, &in));
}

Test(cap, delete_unmaps)
{
	make_tables();
	OK(gl_cap_copy(&cs, 20, 30));
	OK(gl_cap_install(&cs, 13, 0, 20, PTE_W, 0, 1));
	OK(gl_cap_install(&cs, 13, 1, 30, PTE_W, 0, 1));
	OK(gl_cap_install(&cs, 12, 0, 13, 0, 0, 1));
	cr_assert(table(13)[0] & PTE_P);
	OK(gl_cap_delete(&cs, 20));
	cr_assert_eq(table(13)[0], 0, "the PTE made through the cap stays");
	cr_assert(table(13)[1] & PTE_P, "the copy's PTE is gone");
	/* The last copy of the PT: the PD entry and every entry in it go. */
	OK(gl_cap_delete(&cs, 13));
	cr_assert_eq(table(12)[0], 0);
	struct gl_cap_info in;
	OK(gl_cap_identify(&cs, 30, &in));
	cr_assert_eq(slots[30].maps[0].count, 0);
	EXPECT_ERR(EBADF, gl_cap_delete(&cs, 13));
	EXPECT_ERR(EBADF, gl_cap_delete(&cs, GL_CAP_SLOTS + 3));
	/* The last copy of an object with descendants: revoke first. */
	EXPECT_ERR(EBUSY, gl_cap_delete(&cs, ram));
	OK(gl_cap_copy(&cs, ram, 40));
	OK(gl_cap_delete(&cs, ram));
	OK(gl_cap_retype(&cs, 40, GL_CAP_FRAME, 32 * MIB, PAGE_SIZE, 1, 41));
	EXPECT_ERR(EBUSY,
		   gl_cap_retype(&cs, 40, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 42));
}

Test(cap, unmap_one_install)
{
	make_tables();
	OK(gl_cap_install(&cs, 13, 5, 20, PTE_W, 0, 1));
	OK(gl_cap_install(&cs, 13, 6, 21, PTE_W, 0, 1));
	OK(gl_cap_install(&cs, 13, 8, 20, 0, 0, 1)); /* a second record */
	EXPECT_ERR(EBADF, gl_cap_unmap(&cs, 99, 13, 5, NULL));
	EXPECT_ERR(EBADF, gl_cap_unmap(&cs, 20, -1, 5, NULL));
	EXPECT_ERR(EINVAL, gl_cap_unmap(&cs, 20, 21, 5, NULL)); /* not a vnode */
	EXPECT_ERR(ENOENT, gl_cap_unmap(&cs, 20, 13, 6, NULL)); /* 21's entry */
	EXPECT_ERR(ENOENT, gl_cap_unmap(&cs, 20, 12, 5, NULL)); /* other table */
	OK(gl_cap_unmap(&cs, 20, 13, 5, NULL));
	cr_assert_eq(table(13)[5], 0);
	cr_assert(table(13)[8] & PTE_P, "the other install stays");
	cr_assert(table(13)[6] & PTE_P, "and the other cap's");
	EXPECT_ERR(ENOENT, gl_cap_unmap(&cs, 20, 13, 5, NULL));
	OK(gl_cap_install(&cs, 13, 5, 20, PTE_W, 0, 1)); /* again */
	/* The A/D bits the hardware set come back with the removal. */
	table(13)[8] |= PTE_A | PTE_D;
	uint64_t ad = 0;
	OK(gl_cap_unmap(&cs, 20, 13, 8, &ad));
	cr_assert_eq(ad, PTE_A | PTE_D);
	OK(gl_cap_unmap(&cs, 20, 13, 5, &ad));
	cr_assert_eq(ad, 0, "a fresh entry: neither accessed nor dirty");
}

Test(cap, revoke)
{
	make_tables();
	OK(gl_cap_copy(&cs, ram, 50));
	OK(gl_cap_copy(&cs, 20, 31));
	OK(gl_cap_retype(&cs, 21, GL_CAP_FRAME, 0, PAGE_SIZE, 1, 32));
	OK(gl_cap_install(&cs, 10, 0, 11, 0, 0, 1));
	OK(gl_cap_install(&cs, 11, 0, 12, 0, 0, 1));
	OK(gl_cap_install(&cs, 12, 0, 13, 0, 0, 1));
	OK(gl_cap_install(&cs, 13, 0, 31, PTE_W, 0, 1));
	OK(gl_cap_install(&cs, 13, 1, 32, PTE_W, 0, 1));
	/* Revoke of a frame: its copy and child go, it stays. */
	OK(gl_cap_revoke(&cs, 21));
	cr_assert_eq(slots[32].type, GL_CAP_NULL);
	cr_assert_eq(table(13)[1], 0);
	OK(gl_cap_revoke(&cs, 20));
	cr_assert_eq(slots[31].type, GL_CAP_NULL);
	cr_assert_eq(table(13)[0], 0);
	cr_assert_eq(slots[20].type, GL_CAP_FRAME);
	/* Revoke of the RAM: everything else goes, the RAM cap stays and
	 * the memory can be retyped again. */
	OK(gl_cap_install(&cs, 13, 0, 20, PTE_W, 0, 1));
	OK(gl_cap_revoke(&cs, ram));
	for (int i = 1; i < GL_CAP_SLOTS; i++)
		cr_assert_eq(slots[i].type, GL_CAP_NULL, "slot %d survived", i);
	cr_assert_eq(slots[ram].type, GL_CAP_RAM);
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 0, MEM_SIZE, 1, 1));
	OK(gl_cap_revoke(&cs, 1)); /* nothing to revoke */
	EXPECT_ERR(EBADF, gl_cap_revoke(&cs, 2));
	EXPECT_ERR(EBADF, gl_cap_revoke(&cs, -2));
}

/* Which (table level, source type) pairs install. */
Test(cap, install_type_table)
{
	make_tables();
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 2 * MIB, 2 * MIB, 1, 25));
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PT, 8 * PAGE_SIZE, PAGE_SIZE, 1,
			 26));
	int tables[4] = {13, 12, 11, 10}; /* PT, PD, PDPT, PML4 */
	struct {
		int src, want[4]; /* per level 1..4 */
	} rows[] = {
	    {ram, {EINVAL, EINVAL, EINVAL, EINVAL}},
	    {20, {0, EINVAL, EINVAL, EINVAL}}, /* 4 KiB frame */
	    {25, {0, 0, EINVAL, EINVAL}},      /* 2 MiB frame */
	    {26, {0, 0, EINVAL, EINVAL}},      /* PT */
	    {12, {0, EINVAL, 0, EINVAL}},      /* PD */
	    {11, {0, EINVAL, EINVAL, 0}},      /* PDPT */
	    {10, {0, EINVAL, EINVAL, EINVAL}}, /* PML4 */
	};
	cs.gbpages = 1;
	for (unsigned r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (int l = 0; l < 4; l++) {
			int idx = 10 + (int)r;
			if (rows[r].want[l]) {
				EXPECT_ERR(rows[r].want[l],
					   gl_cap_install(&cs, tables[l], idx,
							  rows[r].src, 0, 0,
							  1));
			} else {
				OK(gl_cap_install(&cs, tables[l], idx,
						  rows[r].src, 0, 0, 1));
			}
		}
	}
	/* A frame is not a table. */
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 20, 0, 21, 0, 0, 1));
}

Test(cap, install_checks)
{
	make_tables();
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 4 * MIB, 4 * MIB, 1, 25));
	OK(gl_cap_retype(&cs, ram, GL_CAP_FRAME, 8 * MIB + PAGE_SIZE, 4 * MIB,
			 1, 26));
	/* 2 MiB pages: alignment of offset and base, size. */
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 12, 0, 25, 0, PAGE_SIZE, 1));
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 12, 0, 26, 0, 0, 1));
	EXPECT_ERR(ERANGE, gl_cap_install(&cs, 12, 0, 25, 0, 2 * MIB, 2));
	EXPECT_ERR(ERANGE, gl_cap_install(&cs, 12, 0, 25, 0, 6 * MIB, 1));
	OK(gl_cap_install(&cs, 12, 0, 25, 0, 2 * MIB, 1));
	cr_assert_eq(table(12)[0] & PTE_ADDR_MASK, 6 * MIB);
	cr_assert(table(12)[0] & PTE_PS);
	/* Index range, count, overwrite. */
	EXPECT_ERR(ERANGE, gl_cap_install(&cs, 13, 511, 25, 0, 0, 2));
	EXPECT_ERR(ERANGE, gl_cap_install(&cs, 13, 512, 20, 0, 0, 1));
	EXPECT_ERR(ERANGE, gl_cap_install(&cs, 13, -1, 20, 0, 0, 1));
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 13, 0, 20, 0, 0, 0));
	OK(gl_cap_install(&cs, 13, 0, 25, 0, 0, 512));
	EXPECT_ERR(EEXIST, gl_cap_install(&cs, 13, 511, 20, 0, 0, 1));
	EXPECT_ERR(EEXIST, gl_cap_install(&cs, 12, 0, 13, 0, 0, 1));
	/* Vnodes: count 1, offset 0. */
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 12, 1, 13, 0, 0, 2));
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 12, 1, 13, 0, PAGE_SIZE, 1));
	/* 1 GiB pages only with gbpages. */
	int big = gl_cap_create_ram(&cs, GIB, GIB, GL_CAP_ALL);
	cr_assert_gt(big, 0);
	OK(gl_cap_retype(&cs, big, GL_CAP_FRAME, 0, GIB, 1, 60));
	EXPECT_ERR(ENOTSUP, gl_cap_install(&cs, 11, 0, 60, 0, 0, 1));
	cs.gbpages = 1;
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 11, 0, 25, 0, 0, 1));
	OK(gl_cap_install(&cs, 11, 0, 60, PTE_W, 0, 1));
	cr_assert_eq(table(11)[0] & PTE_ADDR_MASK, GIB);
	/* Bad flags bits; forged slots. */
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 13, 100, 20, PTE_PS, 0, 1));
	EXPECT_ERR(EINVAL, gl_cap_install(&cs, 13, 100, 20, 1ull << 52, 0, 1));
	EXPECT_ERR(EBADF, gl_cap_install(&cs, 99, 100, 20, 0, 0, 1));
	EXPECT_ERR(EBADF, gl_cap_install(&cs, 13, 100, GL_CAP_SLOTS, 0, 0, 1));
	/* Mapping records run out. */
	OK(gl_cap_retype(&cs, ram, GL_CAP_VNODE_PT, 8 * PAGE_SIZE, PAGE_SIZE, 1,
			 14));
	for (int i = 0; i < GL_CAP_MAPS; i++)
		OK(gl_cap_install(&cs, 14, i, 21, 0, 0, 1));
	EXPECT_ERR(ENOSPC, gl_cap_install(&cs, 14, GL_CAP_MAPS, 21, 0, 0, 1));
}

Test(cap, rights_to_pte_bits)
{
	make_tables();
	uint64_t *pt = table(13);
	OK(gl_cap_mint(&cs, 20, 30, GL_CAP_R));
	OK(gl_cap_mint(&cs, 20, 31, GL_CAP_R | GL_CAP_W));
	OK(gl_cap_mint(&cs, 20, 32, GL_CAP_R | GL_CAP_X));
	OK(gl_cap_mint(&cs, 20, 33, GL_CAP_W | GL_CAP_X));
	OK(gl_cap_mint(&cs, 13, 34, GL_CAP_R));
	OK(gl_cap_install(&cs, 13, 0, 30, PTE_W | PTE_U, 0, 1));
	cr_assert_eq(pt[0], (4 * PAGE_SIZE) | PTE_P | PTE_U | PTE_NX);
	OK(gl_cap_install(&cs, 13, 1, 31, PTE_W, 0, 1));
	cr_assert_eq(pt[1], (4 * PAGE_SIZE) | PTE_P | PTE_W | PTE_NX);
	OK(gl_cap_install(&cs, 13, 2, 32, PTE_W, 0, 1));
	cr_assert_eq(pt[2], (4 * PAGE_SIZE) | PTE_P);
	OK(gl_cap_install(&cs, 13, 3, 20, PTE_W | PTE_NX | PTE_G, 0, 1));
	cr_assert_eq(pt[3], (4 * PAGE_SIZE) | PTE_P | PTE_W | PTE_NX | PTE_G);
	OK(gl_cap_install(&cs, 13, 4, 20, PTE_W, 0, 1));
	cr_assert_eq(pt[4], (4 * PAGE_SIZE) | PTE_P | PTE_W);
	/* No R right: nothing to map. */
	EXPECT_ERR(EPERM, gl_cap_install(&cs, 13, 5, 33, 0, 0, 1));
	/* A page table seen as a page: read-only and NX even with all
	 * rights. */
	OK(gl_cap_install(&cs, 13, 6, 13, PTE_W, 0, 1));
	cr_assert_eq(pt[6], (3 * PAGE_SIZE) | PTE_P | PTE_NX);
	/* A table cap without W can't be written into. */
	EXPECT_ERR(EPERM, gl_cap_install(&cs, 34, 7, 20, 0, 0, 1));
	/* Table entries grant everything; the leaves decide. */
	OK(gl_cap_install(&cs, 12, 0, 13, 0, 0, 1));
	cr_assert_eq(table(12)[0], (3 * PAGE_SIZE) | PTE_P | PTE_W | PTE_U);
}

/* The checker itself: each kind of corruption is found. */
Test(cap, check_finds_corruption)
{
	make_tables();
	OK(gl_cap_mint(&cs, 20, 30, GL_CAP_R));
	OK(gl_cap_install(&cs, 13, 0, 30, 0, 0, 1));
	uint64_t *pt = table(13);
	pt[1] = (5 * PAGE_SIZE) | PTE_P; /* no record */
	cr_assert_eq(gl_cap_check(&cs), -EUCLEAN);
	pt[1] = 0;
	pt[0] |= PTE_W; /* more than the R right allows */
	cr_assert_eq(gl_cap_check(&cs), -EUCLEAN);
	pt[0] &= ~(PTE_W | PTE_NX);
	cr_assert_eq(gl_cap_check(&cs), -EUCLEAN);
	pt[0] |= PTE_NX;
	OK(gl_cap_check(&cs));
	pt[0] = 0; /* a record over an absent entry */
	cr_assert_eq(gl_cap_check(&cs), -EUCLEAN);
	pt[0] = (4 * PAGE_SIZE) | PTE_P | PTE_NX;
	OK(gl_cap_check(&cs));
	slots[21].type = GL_CAP_VNODE_PT; /* a frame's bytes as a table */
	slots[21].base = slots[20].base;
	cr_assert_eq(gl_cap_check(&cs), -EUCLEAN);
	cr_assert_not_null(cs.why);
}

/* ---- property test: random operations, forged arguments ------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : rng;
}

#define PSLOTS 48

static struct gl_cap ps[PSLOTS];

enum { LIVE, EMPTY, VNODE, MAPPABLE };

/* Mostly a slot of the kind asked for (so that operations can succeed),
 * else anything, forged numbers included. */
static int pick(int kind)
{
	if (rnd(4)) {
		int cand[PSLOTS], n = 0;
		for (int i = 0; i < PSLOTS; i++) {
			unsigned t = ps[i].type;
			if (kind == LIVE    ? t != GL_CAP_NULL
			    : kind == EMPTY ? t == GL_CAP_NULL
			    : kind == VNODE ? t >= GL_CAP_VNODE_PT
					    : t >= GL_CAP_FRAME)
				cand[n++] = i;
		}
		if (n)
			return cand[rnd((uint64_t)n)];
	}
	switch (rnd(20)) {
	case 0:
		return -1 - (int)rnd(3);
	case 1:
		return PSLOTS + (int)rnd(3);
	case 2:
		return (int)rnd(1u << 31);
	default:
		return (int)rnd(PSLOTS);
	}
}

static uint64_t any_size(void)
{
	static const uint64_t sizes[] = {PAGE_SIZE, 2 * PAGE_SIZE,
					 16 * PAGE_SIZE, 2 * MIB, 4 * MIB};
	if (!rnd(16))
		return rnd(0) & (rnd(2) ? ~0ull : 0xffffff);
	return sizes[rnd(5)];
}

static uint64_t any_offset(void)
{
	switch (rnd(8)) {
	case 0:
		return 0;
	case 1:
		return rnd(0);
	case 2:
		return rnd(8) * 2 * MIB;
	case 3:
		return rnd(16 * MIB);
	default:
		return rnd(64) * PAGE_SIZE;
	}
}

/* After a revoke of slot's object: no other copy and no cap that has it
 * as an ancestor (parent links followed through live caps) is left. */
static void assert_no_descendant(int slot, uint32_t obj)
{
	for (int i = 0; i < PSLOTS; i++) {
		if (ps[i].type == GL_CAP_NULL || i == slot)
			continue;
		cr_assert_neq(ps[i].obj, obj, "a copy survived the revoke");
		uint32_t up = ps[i].parent_obj;
		for (int depth = 0; up && depth < 64; depth++) {
			cr_assert_neq(up, obj, "slot %d: a descendant survived "
					       "the revoke", i);
			uint32_t next = 0;
			for (int j = 0; j < PSLOTS && !next; j++)
				if (ps[j].type != GL_CAP_NULL && ps[j].obj == up)
					next = ps[j].parent_obj ? ps[j].parent_obj
								: UINT32_MAX;
			up = next == UINT32_MAX ? 0 : next;
		}
	}
}

static int has_record(const struct gl_cap *c)
{
	for (int k = 0; k < GL_CAP_MAPS; k++)
		if (c->maps[k].count)
			return 1;
	return 0;
}

Test(cap, property_random_ops, .timeout = 60)
{
	static struct gl_cap snap[PSLOTS];
	struct gl_cap_space p = {
	    .slots = ps, .nslots = PSLOTS, .pa_to_va = mem_va};
	int ok[8] = {0};
	cr_assert_eq(gl_cap_create_ram(&p, 0, 16 * MIB, GL_CAP_ALL), 0);
	cr_assert_eq(
	    gl_cap_create_ram(&p, 16 * MIB, 8 * MIB, GL_CAP_R | GL_CAP_W), 1);
	for (int n = 0; n < 100000; n++) {
		int op = (int)rnd(20), r, rams = 0;
		/* The authority hands out RAM again when none is left. */
		for (int i = 0; i < PSLOTS; i++)
			rams += ps[i].type == GL_CAP_RAM;
		if (!rams)
			cr_assert_geq(
			    gl_cap_create_ram(&p, 0, 16 * MIB, GL_CAP_ALL), 0);
		/* 30% retype, 5% copy, 5% mint, 45% install, 10% delete,
		 * 4.5% revoke, 0.5% authority RAM. */
		op = op < 6 ? 0 : op < 7 ? 5 : op < 8 ? 7 : op < 17 ? 9 : 16;
		if (op == 16 && rnd(2))
			op = 19;
		memcpy(snap, ps, sizeof(ps));
		uint32_t obj = p.next_obj;
		p.gbpages = (int)rnd(2);
		if (op < 5) {
			enum gl_cap_type t = (enum gl_cap_type)rnd(8);
			uint64_t size = t >= GL_CAP_VNODE_PT && rnd(4)
					    ? PAGE_SIZE
					    : any_size();
			r = gl_cap_retype(&p, pick(LIVE), t, any_offset(), size,
					  rnd(8) ? 1 + (uint32_t)rnd(4)
						 : (uint32_t)rnd(0),
					  pick(EMPTY));
			op = 0;
		} else if (op < 7) {
			r = gl_cap_copy(&p, pick(LIVE), pick(EMPTY));
			op = 1;
		} else if (op < 9) {
			r = gl_cap_mint(&p, pick(LIVE), pick(EMPTY),
					(unsigned)rnd(32));
			op = 2;
		} else if (op < 16) {
			uint64_t flags =
			    rnd(0) & (PTE_W | PTE_U | PTE_G | PTE_NX | PTE_PCD);
			if (!rnd(20))
				flags |= 1ull << rnd(64);
			r = gl_cap_install(
			    &p, pick(VNODE),
			    rnd(8) ? (int)rnd(512) : (int)rnd(0),
			    pick(MAPPABLE), flags, rnd(2) ? 0 : any_offset(),
			    rnd(4) ? 1 + (uint32_t)rnd(2) * rnd(3)
				   : (uint32_t)rnd(600));
			op = 3;
		} else if (op < 19 && rnd(3)) {
			r = gl_cap_delete(&p, pick(LIVE));
			op = 4;
		} else if (op < 19) {
			/* Mostly a real record, sometimes anything. */
			int src = pick(MAPPABLE), table = pick(VNODE);
			int index = rnd(8) ? (int)rnd(512) : (int)rnd(0);
			for (int i = 0, at = (int)rnd(PSLOTS); rnd(4) && i < PSLOTS;
			     i++)
				if (has_record(&ps[(at + i) % PSLOTS])) {
					src = (at + i) % PSLOTS;
					break;
				}
			const struct gl_cap *c =
			    src >= 0 && src < PSLOTS ? &ps[src] : NULL;
			for (int k = 0; c && rnd(4) && k < GL_CAP_MAPS; k++) {
				if (!c->maps[k].count)
					continue;
				for (int i = 0; i < PSLOTS; i++)
					if (ps[i].type >= GL_CAP_VNODE_PT &&
					    ps[i].base == c->maps[k].table_pa)
						table = i;
				index = c->maps[k].index;
				break;
			}
			r = gl_cap_unmap(&p, src, table, index, NULL);
			op = 7;
		} else if (rnd(10)) {
			int victim = pick(LIVE);
			uint32_t vobj = victim >= 0 && victim < PSLOTS
					    ? ps[victim].obj
					    : 0;
			r = gl_cap_revoke(&p, victim);
			if (!r)
				assert_no_descendant(victim, vobj);
			op = 5;
		} else {
			/* The authority hands its RAM out again (-EBUSY while
			 * a cap still covers it). */
			r = gl_cap_create_ram(&p, rnd(2) * 16 * MIB, 8 * MIB,
					      GL_CAP_ALL);
			if (r >= 0)
				r = 0;
			op = 6;
		}
		if (r == 0) {
			ok[op]++;
		} else {
			cr_assert(r < 0, "op %d returned %d", op, r);
			cr_assert(!memcmp(snap, ps, sizeof(ps)),
				  "op %d failed with %d but changed caps", op,
				  r);
			cr_assert_eq(p.next_obj, obj);
		}
		cr_assert_eq(gl_cap_check(&p), 0, "op %d (#%d, r=%d): %s", op,
			     n, r, p.why);
	}
	for (int i = 0; i < 8; i++)
		cr_log_info("op kind %d: %d successes", i, ok[i]);
	for (int i = 0; i < 8; i++)
		cr_assert_gt(ok[i], 50, "op kind %d succeeded only %d times",
			     i, ok[i]);
}
