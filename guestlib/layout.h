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
 *     arena + 32 KiB |   vCPU blocks, VCPU_BLOCK_SIZE each (aligned  |
 *                    |   to their size, so ring 0 finds its block    |
 *                    |   from rsp): +0 GDT, +0xff8 the top of the    |
 *                    |   vCPU's upcall stack, +4K TSS (with I/O      |
 *                    |   bitmap), +16K IST1 stack (16 KiB)           |
 *     arena + 64 MiB |   pool (U=1): page tables and frames (4 KiB,  |
 *                    |   bump up), upcall stacks, 2 MiB frames (down) |
 *     arena + 512MiB +-----------------------------------------------+
 *                    | monitor stacks: host only, never in the guest |
 *                    | RAM window (vmm/ram.c): grants, each a memslot |
 *                    |   and a user view at gpa == gva; the rest of   |
 *                    |   the window unbacked                          |
 *                    | reserved ranges: guest-owned, never synced     |
 *   0x7fff_ffff_ffff +-----------------------------------------------+
 *   (kernel half, [vsyscall]: never mapped in the guest)
 */
#ifndef GL_LAYOUT_H
#define GL_LAYOUT_H

/* Constants usable from C and assembly (guestlib/entry_x86_64.S). */
#ifdef __ASSEMBLER__
#define GL_UL(x) x
#else
#define GL_UL(x) x##ull
#endif

#define ARENA_SIZE (GL_UL(512) << 20)
#define ARENA_ALIGN (GL_UL(2) << 20)
#define ARENA_IDT_OFF GL_UL(0x0)
#define ARENA_UIDT_OFF GL_UL(0x1000)
#define ARENA_VCPU_OFF GL_UL(0x8000)
#define VCPU_BLOCK_SIZE (GL_UL(32) << 10)
#define VCPU_GDT_OFF GL_UL(0x0)
#define VCPU_TSS_OFF GL_UL(0x1000)
#define VCPU_UPSTACK_PTR_OFF GL_UL(0xff8) /* after the 7 GDT entries */
#define VCPU_IST_OFF GL_UL(0x4000)
#define VCPU_IST_SIZE (GL_UL(16) << 10)
#define ARENA_PT_OFF (GL_UL(64) << 20)
#define VMM_MAX_VCPUS ((ARENA_PT_OFF - ARENA_VCPU_OFF) / VCPU_BLOCK_SIZE)

#define TSS_IOMAP_OFF 104 /* the I/O bitmap follows the 104-byte TSS */
#define TSS_IOMAP_BYTES 8192
#define TSS_LIMIT (TSS_IOMAP_OFF + TSS_IOMAP_BYTES) /* + trailing 0xff */

/* How upcalls save the interrupted code's vector state (gl_fpu_save). */
#define GL_FPU_NONE 0
#define GL_FPU_FXSAVE 1
#define GL_FPU_XSAVE 2

#define MON_STACK_SIZE (GL_UL(256) << 10) /* monitor host stack per vCPU */
#define UPCALL_STACK_SIZE (GL_UL(64) << 10) /* ring-3 handler stack per vCPU */
#define VMM_MAX_PRIV 4096	      /* private (never-mapped) ranges */

/* Mappings larger than this get PTEs and memslots lazily, one chunk per
 * fault, instead of at mmap time (sparse reservations stay cheap). */
#define EAGER_MAX (GL_UL(4) << 30)
#define LAZY_CHUNK (GL_UL(2) << 20)

#endif /* GL_LAYOUT_H */
