/* vmm/vmm.h: the host-side monitor's internal interface (one header per
 * layer). Nothing here is public; libdune/ wraps it. */
#ifndef VMM_H
#define VMM_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include "dune/abi.h"
#include "dune/dune.h"
#include "layout.h"
#include "pt_x86_64.h"

/* ---- Typed addresses (see guestlib/layout.h) ---------------------------- */
typedef uint64_t gpa_t; /* guest-physical */
typedef uint64_t gva_t; /* guest-virtual (== host-virtual for the process) */

/* ---- The VM ---------------------------------------------------------------
 */
struct vmm_slot {
	uint64_t start, end; /* guest-physical == host-virtual, page aligned */
	uint32_t id;
};

struct vmm_vcpu;

/* Physical memory handed to the guest (vmm/ram.c); under mem_lock. */
#define VMM_MAX_GRANTS 256
#define VMM_MAX_RESERVED 64
#define VMM_MAX_SHARED_ROOTS 64
struct vmm_grant {
	uint64_t base, size;
};
struct vmm_ram {
	uint64_t window, window_size; /* host reservation, private */
	uint64_t max_bytes, used;
	struct vmm_grant g[VMM_MAX_GRANTS]; /* sorted by base */
	int ng;
	struct {
		uint64_t start, end;
	} res[VMM_MAX_RESERVED]; /* guest-owned virtual ranges */
	int nres;
	uint64_t roots[VMM_MAX_SHARED_ROOTS]; /* DUNE_RAM_SHARE_ROOT */
	int nroots;
};

/* What guest-side libdune writes, kept in the arena's pool (first page). */
struct vmm_shared {
	atomic_flag mem_lock; /* page table, memslots, pool */
	uint64_t pt_next;     /* pool bump pointer (arena offset), upwards */
	uint64_t pt_top;      /* 2 MiB frames are taken below this */
	uint64_t pool_free;   /* free list of 4 KiB pages */
	uint64_t pool_nfree;
};

struct vmm {
	uint64_t gen; /* a new VM (fork child) gets a new number */
	int kvm_fd, vm_fd;
	enum dune_mode mode;
	int hw_virt;
	int run_size;
	int xsave_size;
	uint64_t xcr0;
	int has_xcrs;
	int has_tsc_ctrl;
	struct kvm_cpuid2 *cpuid; /* from KVM_GET_SUPPORTED_CPUID */
	int guest_phys_bits;
	int gbpages;
	int max_slots;

	/* guestlib's private arena (see layout.h) */
	uint8_t *arena;
	struct vmm_shared *sh; /* lock and pool state, in the arena */
	struct gl_pt pt;       /* the guest page table (one per process) */

	/* memslots, sorted by start; protected by sh->mem_lock */
	struct vmm_slot *slots;
	int nslots;
	uint32_t *free_ids;
	int nfree_ids;
	uint32_t next_id;

	/* ranges the guest must never map (monitor stacks); under mem_lock */
	struct {
		uint64_t start, end;
	} priv[VMM_MAX_PRIV];
	int npriv;

	struct vmm_ram ram; /* grants, reservations, shared roots */

	atomic_uint_least64_t tlb_gen; /* TLB shootdowns requested */

	atomic_int nvcpus; /* vCPUs in use by a thread */
	atomic_int next_vcpu;
	atomic_flag vcpu_lock;
	struct vmm_vcpu *vcpu_pool;	       /* released, reusable vCPUs */
	struct vmm_vcpu *vcpus[VMM_MAX_VCPUS]; /* every vCPU, by id */

	/* counters (struct dune_stats) */
	atomic_uint_least64_t st_exits, st_syscalls, st_faults, st_signals,
	    st_syncs, st_monitor_ns;
};

extern struct vmm *vmm_g; /* the process's VM, NULL before dune_init */

/* Process-wide settings; they outlive a VM (a forked child's new VM
 * inherits them). */
struct vmm_config {
	int trace_fd;	 /* -1: no syscall trace */
	int print_stats; /* print stats at exit_group */
	int stats_fd;	 /* where: a copy of stderr taken at dune_init */
	char *exec_env;	 /* "A=1\0B=2\0\0": added to execve'd envs */
	size_t exec_env_len;
	int n_exec_env;
	char loader[4096];   /* the dune command, for exec'd static programs */
	uint64_t sys_upcall; /* syscall interposition entry (0: off) */
	char self_exe[4096]; /* what /proc/self/exe names, if not the host's */
};
extern struct vmm_config vmm_cfg;

/* Saved by vmm_enter_asm: the registers dune_enter() returns with. */
struct vmm_entry_regs {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

struct vmm_vcpu {
	struct vmm *vm;
	int fd;
	int id;
	struct kvm_run *run;
	uint8_t *block;	    /* this vCPU's GDT/TSS/IST block in the arena */
	uint8_t *mon_stack; /* the monitor's host stack */
	size_t mon_stack_size;
	int tid;
	atomic_int in_guest;		/* inside KVM_RUN (or about to be) */
	atomic_uint_least64_t tlb_seen; /* shootdowns applied */
	uint64_t fault_addr; /* last #PF address, to catch repeats */
	int fault_repeat;
	int efault_repeat; /* KVM_RUN -EFAULTs in a row */
	/* signals (vmm/signal.c) */
	atomic_uint_least64_t pending; /* host signals not yet delivered */
	atomic_uint_least64_t held;    /* ... of which we blocked on host */
	uint64_t guest_mask;	       /* the guest thread's signal mask */
	uint64_t deliver_mask;	       /* mask for the next delivery, if set */
	int deliver_mask_set;
	siginfo_t pend_info[65];
	stack_t altstack;	     /* the guest's sigaltstack */
	uint8_t *xsave;		     /* scratch, xsave_size bytes */
	struct vmm_entry_regs entry; /* dune_enter()'s return state */
	struct vmm_vcpu *pool_next;
	void *actions;	 /* private signal actions (vfork child) or NULL */
	int vfork_child; /* runs a CLONE_VM|CLONE_VFORK child process */
	/* dune_jump_to_user() (vmm/user.c) */
	int in_user;
	struct kvm_regs ucaller; /* the caller's state to return to */
	uint64_t ucaller_cr3, ucaller_idt;
	gva_t utf, ufault_out;
};

/* ---- kvm.c: /dev/kvm, capabilities, the VM ---------------------------- */
/* Create the VM (vmm_g). detail receives a message naming what failed. */
int vmm_create(enum dune_mode mode, char *detail, size_t dlen);
void vmm_destroy(struct vmm *vm);
int vmm_probe_host(struct dune_host_info *info);

/* ---- memory.c: memslots and the guest page table --------------------- */
int vmm_mem_init(struct vmm *vm);
/* Anonymous MAP_NORESERVE memory of len bytes aligned to align (a power
 * of two), with prot. Returns the address or 0. */
uint64_t vmm_map_aligned(uint64_t len, uint64_t align, int prot);
void vmm_mem_fini(struct vmm *vm);
/* Make [start, end) of the guest match the host: PTEs mirror host
 * protections and memslots cover exactly what is mapped. */
int vmm_mem_sync(struct vmm *vm, uint64_t start, uint64_t end);
/* A #PF the guest page table could not satisfy: re-sync around addr.
 * Returns 0 if the access should now succeed, else the signal a native
 * access gets (SIGSEGV or SIGBUS) with its si_code in *code. */
int vmm_mem_fault(struct vmm *vm, uint64_t addr, uint64_t err, int *code);
/* The guest's leaf entry for addr (A/D bits masked), 0 if none. */
uint64_t vmm_mem_pte(struct vmm *vm, uint64_t addr);
/* Register / forget a host range the guest must never map. */
int vmm_mem_add_private(struct vmm *vm, uint64_t start, uint64_t end);
void vmm_mem_del_private(struct vmm *vm, uint64_t start, uint64_t end);
/* 1 if [start, start+len) overlaps a private range (the guest must not
 * unmap, remap or change dune's own memory). */
int vmm_mem_touches_private(struct vmm *vm, uint64_t start, uint64_t len);
/* The lock over the page table, memslots and pool (spins; the guest side
 * of libdune takes it too). */
void vmm_mem_lock(struct vmm *vm);
void vmm_mem_unlock(struct vmm *vm);
/* Zeroed pages from the arena pool (4 KiB: tables and frames; 2 MiB:
 * large frames), their release, and how many 4 KiB pages are left.
 * Callers hold the lock. */
int vmm_pt_alloc(void *ctx, uint64_t *pa);
void vmm_page_free(struct vmm *vm, uint64_t pa);
/* len bytes of contiguous, zeroed pool pages (never freed). */
int vmm_pool_alloc_contig(struct vmm *vm, uint64_t len, uint64_t *pa);
int vmm_lpage_alloc(struct vmm *vm, uint64_t *pa);
uint64_t vmm_pool_avail(const struct vmm *vm);
/* 1 if pa is a page of the pool (tables the vmm or libdune made). */
int vmm_pool_page(const struct vmm *vm, uint64_t pa);
uint64_t vmm_lpool_avail(const struct vmm *vm); /* 2 MiB frames left */
/* Copy to/from guest memory, checking the guest page table grants user
 * access (write if to_guest) and that the host mapping is there. */
int vmm_copy_from_guest(struct vmm *vm, void *dst, gva_t src, size_t len);
int vmm_copy_to_guest(struct vmm *vm, gva_t dst, const void *src, size_t len);

/* Memslots with guest-physical == host-virtual over [start, end), outside
 * the sync mechanism (grants). Callers hold the lock. */
int vmm_mem_slot_add(struct vmm *vm, uint64_t start, uint64_t end);
void vmm_mem_slot_remove(struct vmm *vm, uint64_t start);

/* ---- ram.c: the physical-memory authority (DUNE_SYS_RAM) ------------- */
long vmm_sys_ram(struct vmm_vcpu *v, uint64_t op, uint64_t a1, uint64_t a2);
/* A #PF under cr3: copy top-level entries the process's table gained into
 * that root if it is a shared one. Returns how many (0: not the cause). */
int vmm_ram_refresh_root(struct vmm *vm, uint64_t cr3);
void vmm_ram_fini(struct vmm *vm);

/* DUNE_RAM_TLB_SHOOTDOWN: make every other vCPU flush before it runs guest
 * code again, and wait for those inside the guest. */
long vmm_tlb_shootdown(struct vmm_vcpu *self);

/* ---- vcpu.c: vCPUs and the exit loop -------------------------------- */
/* A vCPU with a fresh monitor stack for a thread (reused from the pool
 * when one was released). 0 or -errno in *err. */
struct vmm_vcpu *vmm_vcpu_create(struct vmm *vm, int *err);
/* Give the vCPU back to the pool. The monitor stack is the caller's to
 * unmap (it may be running on it). counted: it was in use by a thread. */
void vmm_vcpu_release(struct vmm_vcpu *v, int counted);
/* Free every vCPU (the VM is going away). */
void vmm_vcpu_free_all(struct vmm *vm);
/* The vCPU whose monitor stack we are running on, or NULL: the monitor
 * cannot use TLS, which belongs to the guest (it may switch %fs). */
struct vmm_vcpu *vmm_current(void);
/* Load the state the thread resumes with (entry, clone or fork child):
 * segments and system registers, then the GPRs. */
int vmm_vcpu_load_sregs(struct vmm_vcpu *v, uint64_t fs_base, uint64_t gs_base);
int vmm_vcpu_load(struct vmm_vcpu *v, const struct kvm_regs *regs,
		  uint64_t fs_base, uint64_t gs_base);
/* Make the app's code/stack segments current (after a syscall that
 * entered at CPL0 on hardware that switches rings). */
void vmm_vcpu_set_app_segments(struct vmm_vcpu *v);
/* DUNE_SYS_PF_PASS: treat the fault an upcall handler hands back as the
 * vmm would have. 0: the vCPU now resumes at the fault's state (or a
 * signal handler); -errno: return that to the caller. */
long vmm_pf_pass(struct vmm_vcpu *v, gva_t tfp, uint64_t addr, uint64_t err);
/* The exit loop, on the monitor stack. Never returns. */
_Noreturn void vmm_vcpu_run(struct vmm_vcpu *v);
/* End the process the way a fatal guest error should (message first). */
_Noreturn void vmm_die(const char *what, struct vmm_vcpu *v);

uint64_t vmm_sanitize_rflags(uint64_t f);
extern const char gl_flush_ret[];
extern const char gl_upcall_entry[], gl_upcall_entry0[];
extern const char gl_passthrough_ret[];

/* ---- syscall.c: forwarded syscalls ---------------------------------- */
/* Upcall every interposable syscall to gl_syscall_handler (on) or not. */
void vmm_set_syscall_upcall(int on);
void vmm_handle_syscall(struct vmm_vcpu *v);

/* ---- user.c: dune_jump_to_user ---------------------------------------- */
/* Switch the vCPU to the trap frame at tfp (ring 3, page table root or
 * the current one). 0 (registers replaced) or -errno for the caller. */
long vmm_user_enter(struct vmm_vcpu *v, gva_t tfp, uint64_t root,
		    gva_t fault_out);
/* Save the code's state into its trap frame and return to the caller with
 * rax = why (DUNE_RET_*); f is the exception frame, if any. */
void vmm_user_exit(struct vmm_vcpu *v, int why, const struct dune_trap_frame *f,
		   uint64_t cr2);
/* Fill a segment register (vcpu.c). */
void vmm_seg(struct kvm_segment *s, uint16_t sel, int code, int dpl);

/* ---- fds.c: dune's fds, kept high and out of the program's way ------- */
/* Move fd to the top of the fd range (close-on-exec); returns the new fd. */
int vmm_fd_high(int fd);
int vmm_fd_is_ours(struct vmm *vm, int fd);
long vmm_sys_close(struct vmm *vm, int fd);
long vmm_sys_dup3(struct vmm *vm, long nr, int oldfd, int newfd, int flags);
long vmm_sys_close_range(struct vmm *vm, unsigned first, unsigned last,
			 unsigned flags);

/* GPRs between a struct dune_tf (dune/trap.h) and KVM's registers. */
struct dune_tf;
void vmm_tf_from_regs(struct dune_tf *tf, const struct kvm_regs *r);
void vmm_regs_from_tf(struct kvm_regs *r, const struct dune_tf *tf);

/* ---- exec.c: execve keeps the new program under dune ---------------- */
long vmm_sys_execve(struct vmm_vcpu *v, long nr, const uint64_t a[6]);
/* readlink(at) answering dune_set_self_exe()'s path for /proc/self/exe. */
long vmm_sys_readlink(struct vmm_vcpu *v, long nr, const uint64_t a[6]);

/* ---- trace.c: --trace, --stats and the settings of `dune run` -------- */
void vmm_trace_syscall(struct vmm_vcpu *v, long nr, const uint64_t args[6],
		       long ret);
/* A signal dune raises for an exception (fatal or framed): one line. */
void vmm_trace_signal(struct vmm_vcpu *v, int sig, int code, uint64_t addr,
		      uint64_t rip);
void vmm_print_stats(void);
void vmm_get_stats(struct dune_stats *o);
/* The backends of dune_set_trace_fd(), dune_set_exec_env(),
 * dune_set_exec_loader() and dune_set_self_exe() (dune/dune.h). */
void vmm_set_trace_fd(int fd);
int vmm_set_exec_env(const char *const *entries);
int vmm_set_exec_loader(const char *path);
int vmm_set_self_exe(const char *path);

/* ---- signal.c: signals into the guest ------------------------------- */
int vmm_signal_init(struct vmm *vm);
/* The host mask for a guest mask m: DUNE_SIG_KICK is never blocked. */
uint64_t vmm_host_mask(uint64_t m);
/* Queue the kick for v's thread. */
void vmm_kick(struct vmm_vcpu *v);
/* A guest access to guest-physical memory no memslot backs (gpa 0: not
 * known): say so and die of SIGSEGV (not catchable: the access cannot be
 * completed). */
_Noreturn void vmm_unbacked_access(struct vmm_vcpu *v, uint64_t gpa);
/* A guest access KVM cannot back because the host memory behind it is
 * not mapped: message, then death by SIGSEGV. */
_Noreturn void vmm_unmapped_access(struct vmm_vcpu *v);
/* A vfork child shares memory but not signal actions with its parent:
 * give v a private copy / drop it. */
int vmm_signal_private_actions(struct vmm_vcpu *v);
void vmm_signal_drop_actions(struct vmm_vcpu *v);
/* Give the host back the guest's signal actions (dune_destroy). */
void vmm_signal_fini(void);
/* Deliver the pending host signals that the guest does not block. */
void vmm_signal_deliver_pending(struct vmm_vcpu *v);
/* A synchronous signal from a guest exception: frame it or, without a
 * handler, end the process exactly as natively. */
void vmm_signal_force(struct vmm_vcpu *v, int sig, int code, uint64_t addr,
		      struct dune_trap_frame *tf);
long vmm_sys_rt_sigaction(struct vmm_vcpu *v, int sig, gva_t act, gva_t oact,
			  size_t setsize);
long vmm_sys_sigaltstack(struct vmm_vcpu *v, gva_t ss, gva_t oss);
/* The guest's mask is kept here; the host's is it plus held signals. */
long vmm_sys_rt_sigprocmask(struct vmm_vcpu *v, int how, gva_t set, gva_t oset,
			    size_t size);
/* rt_sigreturn: restore the guest state saved in the frame at rsp. */
long vmm_sys_rt_sigreturn(struct vmm_vcpu *v);
/* Called after a forwarded syscall returned -EINTR. */
void vmm_signal_syscall_interrupted(struct vmm_vcpu *v, long nr);

/* ---- enter_x86_64.S ------------------------------------------------- */
/* Save callee-saved registers, rsp and the return rip into *r, switch to
 * stack_top and call cont(r). Returns 0 later, inside the guest. */
int vmm_enter_asm(struct vmm_entry_regs *r, void *stack_top,
		  void (*cont)(struct vmm_entry_regs *));
/* clone(2) whose child starts fn(arg) on child_stack. Returns the child's
 * tid (or -errno) in the parent. */
long vmm_clone_asm(unsigned long flags, void *child_stack, int *ptid, int *ctid,
		   unsigned long tls, void (*fn)(void *), void *arg);

/* munmap(stack, size) then exit(status), using no stack in between. */
_Noreturn void vmm_exit_thread_asm(void *stack, size_t size, long status);

/* ---- guestlib symbols the vmm points the CPU at ---------------------- */
extern const char gl_syscall_entry[];
extern const char gl_text_start[], gl_text_end[];
static inline int vmm_in_guestlib_text(uint64_t rip)
{
	return rip >= (uint64_t)(uintptr_t)gl_text_start &&
	       rip < (uint64_t)(uintptr_t)gl_text_end;
}
extern const uint64_t gl_vectors[DUNE_NR_VECTORS];
extern const uint64_t gl_vectors_exit[DUNE_NR_VECTORS];
void gl_build_gdt(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit);
void gl_build_tss(void *tss, uint64_t ist1_top, const uint8_t *ring3_ports,
		  int nports);
void gl_build_idt(void *idt, const uint64_t *vectors);

/* Copy and zero whole pages without calling libc: guest-side libdune does
 * this in fault handlers, where a first call through the PLT (a lazy
 * binding writes the GOT) could fault again on a copy-on-write page. */
static inline void vmm_page_zero(void *p, uint64_t len)
{
	void *d = p;
	uint64_t n = len / 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
}
static inline void vmm_page_copy(void *dst, const void *src, uint64_t len)
{
	void *d = dst;
	const void *s = src;
	uint64_t n = len / 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static inline void vmm_spin_lock(atomic_flag *l)
{
	while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
		__builtin_ia32_pause();
}
static inline void vmm_spin_unlock(atomic_flag *l)
{
	atomic_flag_clear_explicit(l, memory_order_release);
}

static inline uint64_t vmm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* VMM_H */
