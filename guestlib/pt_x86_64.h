/* guestlib/pt_x86_64.h: x86-64 4-level paging: PTE bits, index macros and
 * the one page-table walker/mapper used by every layer.
 *
 * References: Intel SDM Vol. 3A, 4.5 (4-level paging) and Table 4-19
 * (format of a 4 KiB PTE); AMD APM Vol. 2, 5.3.
 *
 * The code works on a memory view (struct gl_pt): physical addresses of
 * table pages are turned into pointers by pa_to_va(), and new table pages
 * come from alloc(). It never touches KVM, so it is unit-testable anywhere.
 */
#ifndef GL_PT_X86_64_H
#define GL_PT_X86_64_H

#include <stdint.h>
#include <stddef.h>

#define PTE_P (1ull << 0)      /* present */
#define PTE_W (1ull << 1)      /* writable */
#define PTE_U (1ull << 2)      /* user (CPL3) may access */
#define PTE_PWT (1ull << 3)    /* write-through */
#define PTE_PCD (1ull << 4)    /* cache disable */
#define PTE_A (1ull << 5)      /* accessed (set by the CPU) */
#define PTE_D (1ull << 6)      /* dirty (set by the CPU, leaf entries only) */
#define PTE_PS (1ull << 7)     /* large page (in PDPTE/PDE) */
#define PTE_G (1ull << 8)      /* global */
#define PTE_AVAIL0 (1ull << 9) /* bits 9-11: ignored by the CPU, ours */
#define PTE_AVAIL1 (1ull << 10)
#define PTE_AVAIL2 (1ull << 11)
#define PTE_NX (1ull << 63) /* no execute (EFER.NXE = 1) */
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define PTE_FLAGS_MASK (~PTE_ADDR_MASK)

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define LPAGE_SIZE (1ull << 21) /* 2 MiB */
#define HPAGE_SIZE (1ull << 30) /* 1 GiB */
#define PT_ENTRIES 512

/* Level 1 = PT (4 KiB leaves), 2 = PD (2 MiB), 3 = PDPT (1 GiB), 4 = PML4. */
#define PT_LEVEL_SHIFT(l) (PAGE_SHIFT + 9 * ((l)-1))
#define PT_LEVEL_SIZE(l) (1ull << PT_LEVEL_SHIFT(l))
#define PT_INDEX(va, l) (((va) >> PT_LEVEL_SHIFT(l)) & 0x1ff)

/* Canonical user half: the addresses a Linux process can map. */
#define GVA_USER_END (1ull << 47)

struct gl_pt {
	uint64_t root;				   /* pa of the PML4 */
	void *(*pa_to_va)(void *ctx, uint64_t pa); /* table page -> pointer */
	int (*alloc)(void *ctx, uint64_t *pa);	   /* zeroed table page */
	void *ctx;
};

/* Find the entry mapping `va` at `level` (1..3). With `alloc`, missing
 * intermediate tables are created; a large page above `level` is split into
 * the next level with the same flags, so the translation never changes.
 * Returns 0 and sets *ptep, -ENOENT (missing and !alloc), -ENOMEM. */
int gl_pt_walk(struct gl_pt *pt, uint64_t va, int level, int alloc,
	       uint64_t **ptep);

/* Map [va, va+len) to [pa, pa+len) with leaf flags `flags` (PTE_P added).
 * Uses 2 MiB entries where both addresses are 2 MiB aligned and
 * `flags & PTE_PS`, 4 KiB entries elsewhere. Replaces existing entries.
 * va, pa and len must be 4 KiB aligned (-EINVAL). */
int gl_pt_map(struct gl_pt *pt, uint64_t va, uint64_t pa, uint64_t len,
	      uint64_t flags);

/* Clear every leaf entry in [va, va+len) (splitting large pages at the
 * edges). Tables left empty are kept for reuse. Returns 0, -EINVAL, -ENOMEM
 * (a split needed a table page). */
int gl_pt_unmap(struct gl_pt *pt, uint64_t va, uint64_t len);

/* Translate va: returns the leaf entry (0 if not mapped) and its level. */
uint64_t gl_pt_lookup(struct gl_pt *pt, uint64_t va, int *level);

#endif /* GL_PT_X86_64_H */
