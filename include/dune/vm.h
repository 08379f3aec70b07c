/* dune/vm.h: direct control of the guest page table, TLB and accessed/
 * dirty bits (Dune's dune_vm_* API, same names where the meaning is the
 * same). Works the same in ring-0 and ring-3 mode: page-table pages are
 * ordinary memory the caller writes directly; only TLB flushes need ring 0
 * (native in ring-0 mode, a trap into guestlib's ring 0 in ring-3 mode,
 * never a VM exit). See docs/api.md for costs.
 *
 * Addresses: guest-virtual == host-virtual for the process's own mappings
 * and guest-physical == host-virtual (docs/memory-map.md), so a `pa` is a
 * host address of memory the process owns. Memory mapped here at addresses
 * the host does not map is visible to the guest only: do not pass it to
 * syscalls.
 *
 * Errors (negative errno, nothing is changed on error):
 *   -EINVAL     length 0, misaligned address/length/pa, unknown perm bits
 *   -EOVERFLOW  va + len or pa + len wraps
 *   -EFAULT     range outside the user half [0, 2^47)
 *   -EBUSY      a 4 KiB operation inside an existing large page, or a large
 *               mapping over an existing page table (unmap first)
 *   -ENOTSUP    1 GiB pages on a CPU without them (CPUID pdpe1gb)
 *   -ENOMEM     no page-table page or frame left
 *   -EPERM      dune_init() not called
 */
#ifndef DUNE_VM_H
#define DUNE_VM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t ptent_t;

/* Permission flags (the `perm` of every call). */
#define PERM_NONE 0x0000
#define PERM_R 0x0001      /* present, readable */
#define PERM_W 0x0002      /* writable */
#define PERM_X 0x0004      /* executable (else NX) */
#define PERM_U 0x0008      /* user (CPL3) accessible */
#define PERM_UC 0x0010     /* uncached (PCD|PWT) */
#define PERM_COW 0x0020    /* copy-on-write (read-only until written) */
#define PERM_USR1 0x0100   /* user-defined bits, kept in PTE bits 9-11 */
#define PERM_USR2 0x0200
#define PERM_USR3 0x0400
#define PERM_BIG 0x1000    /* 2 MiB pages */
#define PERM_BIG_1GB 0x2000 /* 1 GiB pages (CPU permitting) */

/* PTE bits, for callers that read entries (dune_vm_lookup, walks). */
#define DUNE_PTE_P (1ull << 0)
#define DUNE_PTE_W (1ull << 1)
#define DUNE_PTE_U (1ull << 2)
#define DUNE_PTE_A (1ull << 5)
#define DUNE_PTE_D (1ull << 6)
#define DUNE_PTE_PS (1ull << 7)
#define DUNE_PTE_COW (1ull << 52) /* PERM_COW, in an ignored bit */
#define DUNE_PTE_NX (1ull << 63)
#define DUNE_PTE_ADDR(e) ((e)&0x000ffffffffff000ull)

/* The process's page table (the one every vCPU runs on). */
ptent_t *dune_pgroot(void);

/* Map [va, va+len) to fresh zeroed frames (4 KiB, or 2 MiB / 1 GiB with
 * PERM_BIG / PERM_BIG_1GB). Existing 4 KiB mappings in the range are
 * replaced (their frames are not freed). */
int dune_vm_map_pages(ptent_t *root, void *va, size_t len, int perm);
/* Map [va, va+len) to guest-physical [pa, pa+len). */
int dune_vm_map_phys(ptent_t *root, void *va, size_t len, void *pa,
		     int perm);
/* Remove every mapping in [va, va+len); large pages at the edges are split. */
int dune_vm_unmap(ptent_t *root, void *va, size_t len);
/* Change the permissions of the present pages in [va, va+len) (pages not
 * present are skipped; PERM_NONE makes them not present). */
int dune_vm_mprotect(ptent_t *root, void *va, size_t len, int perm);
/* Find the leaf entry for va. With create, missing tables are made (a
 * 4 KiB slot is returned, -EBUSY inside a large page). 0 or -ENOENT. */
int dune_vm_lookup(ptent_t *root, void *va, int create, ptent_t **pte_out);
/* Call cb for each present leaf entry in [start, end), in address order;
 * a non-zero return stops the walk and is returned. */
typedef int (*page_walk_cb)(const void *arg, ptent_t *ptep, void *va);
int dune_vm_page_walk(ptent_t *root, void *start, void *end, page_walk_cb cb,
		      const void *arg);
/* A new page table with the same translations; its writable user pages
 * become read-only PERM_COW (the default fault handler copies them on
 * write), and so do the source's, unless the source is dune_pgroot(): the
 * process's own table stays the host's memory, because the host runs the
 * syscalls (so writes made through it are seen by the clone until the
 * clone writes that page). guestlib's pool (tables, upcall stacks) is never
 * made COW. While a thread runs on a clone, syscalls still see the host's
 * memory, not pages the clone copied. NULL on failure. */
ptent_t *dune_vm_clone(ptent_t *root);
/* A page table that maps none of the process: only what the guest kernel
 * needs to take traps (supervisor-only) and guestlib's entry text. For
 * code run with dune_jump_to_user(); map its memory with PERM_U. NULL on
 * failure. */
ptent_t *dune_vm_new_root(void);
/* Free a table made by dune_vm_clone or dune_vm_new_root (not the
 * process's root). Frames are not freed. */
void dune_vm_free(ptent_t *root);
/* Resolve a write fault on a PERM_COW page of root: copy the frame, map
 * it writable. Returns 0, or -EFAULT if addr is not a COW page of root (or
 * the fault was not a write), -ENOMEM. Call it from a page-fault handler,
 * or after dune_jump_to_user() returned a #PF for code running on root.
 * Note that everything a thread writes while running on a clone (its
 * stack too) is the clone's: switching the same thread back with
 * dune_set_root() returns to the state the original holds. */
int dune_vm_cow_fault(ptent_t *root, uintptr_t addr, uint64_t fec);
/* dune_vm_cow_fault() on the calling thread's current root. */
int dune_vm_default_pgflt_handler(uintptr_t addr, uint64_t fec);

/* Fresh 4 KiB guest-physical frames (zeroed), and their release. */
void *dune_page_alloc(void);
void dune_page_free(void *pa);

/* ---- TLB ---------------------------------------------------------------- */
void dune_flush_tlb_one(uintptr_t va);
void dune_flush_tlb_range(uintptr_t va, size_t len);
void dune_flush_tlb(void);
/* dune_flush_tlb() here, and every other vCPU of the process flushes
 * before it runs guest code again (a shootdown: one VM exit, none while
 * the process has a single vCPU). The dune_vm_* calls that remove or
 * replace entries or clear A/D bits do this themselves. */
void dune_flush_tlb_all(void);
/* Switch the calling vCPU to another root (made by dune_vm_clone) or back
 * to dune_pgroot(). */
int dune_set_root(ptent_t *root);

/* ---- Accessed / dirty bits --------------------------------------------- */
/* Returns 1 if set, 0 if clear, -ENOENT if va is not mapped; clears the
 * bit and flushes the entry so that the next access sets it again. */
int dune_vm_test_and_clear_accessed(ptent_t *root, void *va);
int dune_vm_test_and_clear_dirty(ptent_t *root, void *va);
/* Store the addresses of the dirty pages of [va, va+len) in out[0..max)
 * and return how many (at most max); with clear, their D bits are cleared
 * and the TLB flushed once, so later writes are seen again. */
long dune_vm_scan_dirty(ptent_t *root, void *va, size_t len, uintptr_t *out,
			size_t max, int clear);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_VM_H */
