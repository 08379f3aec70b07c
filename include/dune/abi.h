/* dune/abi.h: the one contract between the vmm (host) and guestlib (guest).
 *
 * C99, no host-only types. Everything that crosses the guest/host boundary is
 * defined here: the hypercall ports, the trap frame the exception stubs leave
 * on the ring-0 stack, the segment selectors and the hypercall numbers.
 * Bump DUNE_ABI_VERSION on any change to this file.
 */
#ifndef DUNE_ABI_H
#define DUNE_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

#define DUNE_ABI_VERSION 3

/* ---- Hypercall ports (port I/O exits, `out %al, $port`) ----------------
 * Port I/O is the exit: `vmcall`/`vmmcall` are unusable on software KVM (see
 * docs/abi.md). Ports are 8-bit immediates so the stubs clobber no register.
 *
 *  SYSCALL   the LSTAR stub. Registers are the syscall's (rax = nr, rdi, rsi,
 *            rdx, r10, r8, r9; rcx = return rip, r11 = return rflags). The
 *            vmm executes the call and resumes at rcx with rax = result.
 *            The TSS I/O bitmap grants this port (only) to CPL3, for
 *            software KVMs on which `syscall` at CPL3 stays at CPL3; on
 *            VT-x/AMD-V the stub always runs at CPL0. Nothing else relies
 *            on the bitmap: QEMU's emulated SVM refuses it with the busy
 *            TSS type that VT-x requires (docs/abi.md).
 *  TRAP      an exception stub. The ring-0 stack holds a struct
 *            dune_trap_frame at rsp; GPRs are live in registers. The vmm
 *            may edit both; the stub then pops vec/err and irets.
 *  HCALL     guestlib request from ring 0: rax = DUNE_HC_*, args rdi, rsi,
 *            rdx; result in rax (0 or -errno). Refused from CPL 3.
 */
#define DUNE_PORT_SYSCALL 0xd0
#define DUNE_PORT_TRAP 0xd1
#define DUNE_PORT_HCALL 0xd2

/* Hypercall numbers for DUNE_PORT_HCALL. */
#define DUNE_HC_NOP 0	/* returns 0: used to measure a bare exit */
#define DUNE_HC_EXIT 1	/* rdi = status; ends the process (payload tests) */
#define DUNE_HC_PANIC 2 /* rdi = guest address of a NUL-terminated message */

/* Privileged requests from ring 3 (ring-3 mode). Ring 3 cannot execute
 * invlpg or load CR3, and on software KVM neither `int $n` nor syscall
 * reach ring 0 from it; an exception does. gl_priv() executes `ud2` at
 * gl_priv_insn with eax = op; the ring-0 #UD stub sees that rip, performs
 * the op and resumes after the ud2. Tens of instructions, no VM exit.
 * Any other #UD goes to the vmm as usual. */
#define DUNE_PRIV_INVLPG 1  /* rdi = address */
#define DUNE_PRIV_FLUSH 2   /* reload CR3: flush all non-global entries */
#define DUNE_PRIV_SETROOT 3 /* rdi = new CR3 */
#define DUNE_PRIV_INVLPG_N 4 /* rdi = first address, rsi = pages */
#define DUNE_PRIV_RESUME 5  /* rdi = struct dune_tf *: return from an upcall */

/* Ring-3 mode upcalls: when bit v of gl_upcall_mask is set, exception v
 * from ring 3 is not sent to the vmm; the ring-0 stub saves the state as a
 * struct dune_tf (dune/trap.h) on the user stack below the red zone and
 * irets to gl_upcall_entry (ring 3) with rdi = tf, rsi = CR2. */
#define DUNE_TF_SIZE 176

/* A syscall number Linux does not have (it answers -ENOSYS); the vmm
 * answers DUNE_ABI_VERSION. "Am I inside?" without TLS, which the guest
 * owns, and without trusting CS, which software KVM shows as the host's. */
#define DUNE_SYS_QUERY 0x64756e65 /* "dune" */
/* dune_jump_to_user(): rdi = struct dune_tf *, rsi = root (0: current),
 * rdx = where to store CR2 of a #PF (0: nowhere). */
#define DUNE_SYS_JUMP_USER 0x64756e66
/* Physical-memory authority (libdune/cap.c; vmm/ram.c): rdi = DUNE_RAM_*,
 * further arguments per op; 0 (or a value) or -errno. Each is one exit:
 * only authority changes cost one; retype, install and unmap cost none. */
#define DUNE_SYS_RAM 0x64756e67
/* Hand the guest fresh memory: rsi = struct dune_ram_req * (in: size,
 * align, host_node, host_pages; out: base, thp). The range gets a
 * memslot (guest-physical == host-virtual, inside the vmm's RAM window)
 * and a user-writable view at the same guest-virtual address. */
#define DUNE_RAM_ALLOC 1
/* Take back [rsi, rsi + rdx): exactly one earlier grant. Its view and
 * memslot go and the host memory is released. */
#define DUNE_RAM_FREE 2
/* Zero [rsi, rsi + rdx) inside one grant by dropping its host pages. */
#define DUNE_RAM_ZERO 3
/* rsi = struct dune_ram_limits *: the window and what is left. */
#define DUNE_RAM_LIMITS 4
/* A guest-owned virtual range: rsi = length, rdx = alignment (powers of
 * two, 2 MiB multiples). The host reserves it (PROT_NONE); the vmm never
 * maps or syncs it, so the guest alone decides what its page-table
 * entries there point to. Returns the address. */
#define DUNE_RAM_RESERVE 5
#define DUNE_RAM_UNRESERVE 6 /* rsi = address, rdx = length: exact */
/* Register (rsi = root) or forget (rdx = 1) a page-table root whose
 * user-half top-level entries the vmm keeps in step with the process's
 * table: entries it lacks are copied in when the process's table gains
 * them; its own entries (grafts) are never touched. */
#define DUNE_RAM_SHARE_ROOT 7
/* TLB shootdown: every other vCPU of the process flushes its TLB before
 * it runs guest code again; returns when none can still use a stale
 * entry. The caller flushes its own. */
#define DUNE_RAM_TLB_SHOOTDOWN 8
/* The host signal the vmm uses to make a vCPU leave KVM_RUN for that
 * (queued with a marker, so the guest's own uses of it still work). It is
 * never blocked while a vCPU runs guest code. */
#define DUNE_SIG_KICK 64 /* SIGRTMAX */
/* A #PF upcall handler hands its fault back: rdi = struct dune_tf *
 * (the faulting state), rsi = address, rdx = error code. The vmm treats
 * it as the fault it was (maps host memory, grows a stack, or delivers
 * SIGSEGV/SIGBUS with that state); the thread resumes at tf's state, so
 * the call does not return on success. */
#define DUNE_SYS_PF_PASS 0x64756e68
/* dune_exit_nop(): the vmm resumes the caller with rax = 0 and does
 * nothing else (not counted as a forwarded syscall, never interposed):
 * the cheapest exit, the unit the benchmarks compare others with. */
#define DUNE_SYS_NOP 0x64756e69

/* Host page size policy of granted RAM. */
#define DUNE_HOST_PAGES_4K 0   /* 4 KiB host pages (THP disabled) */
#define DUNE_HOST_PAGES_THP 1  /* transparent huge pages, 2 MiB */
#define DUNE_HOST_PAGES_HUGETLB 2 /* hugetlbfs 2 MiB pages (reserved) */

#ifndef __ASSEMBLER__
struct dune_ram_req {
	uint64_t size;	    /* bytes, 4 KiB multiple (2 MiB for huge pages) */
	uint64_t align;	    /* power of two >= 4 KiB; 0: 4 KiB */
	int32_t host_node;  /* bind to this host NUMA node; -1: no binding */
	int32_t host_pages; /* DUNE_HOST_PAGES_* */
	uint64_t base;	    /* out: guest-physical (== host-virtual) */
	int32_t thp;	    /* out: 1 if the host may back it with THP */
	int32_t pad;
};

struct dune_ram_limits {
	uint64_t window, window_size; /* where grants are placed */
	uint64_t max_bytes, used_bytes;
	uint32_t max_grants, used_grants;
};
#endif

/* ---- Segment selectors (GDT layout, one GDT per vCPU) ------------------
 * Order is dictated by syscall/sysret: STAR[47:32] = KCODE (SS = KCODE + 8),
 * STAR[63:48] = KDATA (sysret CS = KDATA + 16, SS = KDATA + 8).
 */
#define DUNE_SEL_NULL 0x00
#define DUNE_SEL_KCODE 0x08
#define DUNE_SEL_KDATA 0x10
#define DUNE_SEL_UDATA 0x18 /* RPL 3 added when loaded: 0x1b */
#define DUNE_SEL_UCODE 0x20 /* 0x23 */
#define DUNE_SEL_TSS 0x28   /* 16-byte system descriptor */
#define DUNE_GDT_ENTRIES 7

/* ---- Trap frame left on the ring-0 (IST) stack by every exception stub.
 * vec and err are pushed by the stub (err = 0 where the CPU pushes none);
 * the rest is the CPU's interrupt frame. The vmm reads and may rewrite it.
 */
#ifndef __ASSEMBLER__
struct dune_trap_frame {
	uint64_t vec;
	uint64_t err;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};
#endif

/* x86 exception vectors the vmm maps to signals (SDM Vol. 3A, 6.3.1). */
#define DUNE_VEC_DE 0
#define DUNE_VEC_DB 1
#define DUNE_VEC_BP 3
#define DUNE_VEC_OF 4
#define DUNE_VEC_BR 5
#define DUNE_VEC_UD 6
#define DUNE_VEC_NM 7
#define DUNE_VEC_DF 8
#define DUNE_VEC_TS 10
#define DUNE_VEC_NP 11
#define DUNE_VEC_SS 12
#define DUNE_VEC_GP 13
#define DUNE_VEC_PF 14
#define DUNE_VEC_MF 16
#define DUNE_VEC_AC 17
#define DUNE_VEC_MC 18
#define DUNE_VEC_XM 19
#define DUNE_NR_VECTORS 32 /* stubs exist for the 32 exception vectors */

/* #PF error code bits (SDM Vol. 3A, 4.7). */
#define DUNE_PF_P (1u << 0)
#define DUNE_PF_W (1u << 1)
#define DUNE_PF_U (1u << 2)
#define DUNE_PF_RSVD (1u << 3)
#define DUNE_PF_I (1u << 4)

#endif /* DUNE_ABI_H */
