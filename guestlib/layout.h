/* guestlib/layout.h: the guest memory map. Every *_BASE / *_SIZE lives here.
 *
 * Guest-virtual == host-virtual for everything the process maps, and
 * guest-physical == host-virtual too (identity), so gpa_to_hva() is the
 * identity and O(1). This needs guest MAXPHYADDR >= 48 (checked at init).
 *
 *   0x0000_0000_0000 +-----------------------------------------------+
 *                    | the process's own mappings (text, heap, mmap, |
 *                    | stacks, vDSO): PTEs mirror host protections,  |
 *                    | U=1, 4 KiB pages; memslots cover exactly the  |
 *                    | mapped, accessible (prot != NONE) ranges      |
 *                    |                                               |
 *                    | guestlib arena (host mmap, NORESERVE, 2 MiB   |
 *                    | aligned, one memslot, U=0 in guest PTEs):     |
 *     arena + 0      |   IDT (4 KiB)                                 |
 *     arena + 4 KiB  |   IDT for dune_jump_to_user code (exits only) |
 *     arena + 8 KiB  |   vCPU blocks, VCPU_BLOCK_SIZE each:          |
 *                    |     +0 GDT, +4K TSS (with I/O bitmap),        |
 *                    |     +16K IST1 stack (16 KiB)                  |
 *     arena + 64 MiB |   page-table pool (4 KiB pages, bump alloc)   |
 *     arena + 512MiB +-----------------------------------------------+
 *                    | monitor stacks: host only, never in the guest |
 *   0x7fff_ffff_ffff +-----------------------------------------------+
 *   (kernel half, [vsyscall]: never mapped in the guest)
 */
#ifndef GL_LAYOUT_H
#define GL_LAYOUT_H

#define ARENA_SIZE (512ull << 20)
#define ARENA_ALIGN (2ull << 20)
#define ARENA_IDT_OFF 0x0ull
#define ARENA_UIDT_OFF 0x1000ull
#define ARENA_VCPU_OFF 0x2000ull
#define VCPU_BLOCK_SIZE (32ull << 10)
#define VCPU_GDT_OFF 0x0ull
#define VCPU_TSS_OFF 0x1000ull
#define VCPU_IST_OFF 0x4000ull
#define VCPU_IST_SIZE (16ull << 10)
#define ARENA_PT_OFF (64ull << 20)
#define VMM_MAX_VCPUS ((ARENA_PT_OFF - ARENA_VCPU_OFF) / VCPU_BLOCK_SIZE)

#define TSS_IOMAP_OFF 104 /* the I/O bitmap follows the 104-byte TSS */
#define TSS_IOMAP_BYTES 8192
#define TSS_LIMIT (TSS_IOMAP_OFF + TSS_IOMAP_BYTES) /* + trailing 0xff */

#define MON_STACK_SIZE (256ull << 10) /* monitor host stack per vCPU */
#define VMM_MAX_PRIV 4096	      /* private (never-mapped) ranges */

/* Mappings larger than this get PTEs and memslots lazily, one chunk per
 * fault, instead of at mmap time (sparse reservations stay cheap). */
#define EAGER_MAX (4ull << 30)
#define LAZY_CHUNK (2ull << 20)

#endif /* GL_LAYOUT_H */
