/* vmm/vcpu.c: vCPUs (one per entered thread) and the exit loop. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "dune/trap.h"
#include "sys.h"
#include "vmm.h"

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* syscall clears these in RFLAGS (TF, DF, IF, AC, NT). */
#define SFMASK_BITS 0x47700ull

void vmm_seg(struct kvm_segment *s, uint16_t sel, int code, int dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = code ? 11 : 3; /* exec/read/accessed : read/write/accessed */
	s->present = 1;
	s->dpl = (uint8_t)dpl;
	s->db = code ? 0 : 1;
	s->s = 1;
	s->l = code ? 1 : 0;
	s->g = 1;
}

static int app_cpl(const struct vmm *vm)
{
	return vm->mode == DUNE_MODE_RING3 ? 3 : 0;
}

void vmm_vcpu_set_app_segments(struct vmm_vcpu *v)
{
	struct kvm_sregs *sr = &v->run->s.regs.sregs;
	int cpl = app_cpl(v->vm);
	if ((sr->cs.selector & 3) == cpl)
		return;
	vmm_seg(&sr->cs, cpl ? (DUNE_SEL_UCODE | 3) : DUNE_SEL_KCODE, 1, cpl);
	vmm_seg(&sr->ss, cpl ? (DUNE_SEL_UDATA | 3) : DUNE_SEL_KDATA, 0, cpl);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
}

static int setup_sregs(struct vmm_vcpu *v, uint64_t fs_base, uint64_t gs_base)
{
	struct vmm *vm = v->vm;
	struct kvm_sregs sr;
	memset(&sr, 0, sizeof(sr));
	long r = __vmm_ioctl(v->fd, KVM_GET_SREGS, &sr);
	if (r)
		return (int)r;
	int cpl = app_cpl(vm);
	uint16_t cs = cpl ? (DUNE_SEL_UCODE | 3) : DUNE_SEL_KCODE;
	uint16_t ds = cpl ? (DUNE_SEL_UDATA | 3) : DUNE_SEL_KDATA;
	vmm_seg(&sr.cs, cs, 1, cpl);
	vmm_seg(&sr.ds, ds, 0, cpl);
	sr.es = sr.ss = sr.ds;
	vmm_seg(&sr.fs, 0, 0, cpl);
	sr.fs.base = fs_base;
	vmm_seg(&sr.gs, 0, 0, cpl);
	sr.gs.base = gs_base;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = DUNE_SEL_TSS;
	sr.tr.base = (uint64_t)(uintptr_t)(v->block + VCPU_TSS_OFF);
	sr.tr.limit = TSS_LIMIT;
	sr.tr.type = 11; /* busy 64-bit TSS */
	sr.tr.present = 1;
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.unusable = 1;
	sr.gdt.base = (uint64_t)(uintptr_t)(v->block + VCPU_GDT_OFF);
	sr.gdt.limit = DUNE_GDT_ENTRIES * 8 - 1;
	sr.idt.base = (uint64_t)(uintptr_t)(vm->arena + ARENA_IDT_OFF);
	sr.idt.limit = 256 * 16 - 1;
	sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sr.cr3 = vm->pt.root;
	sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (vm->has_xcrs)
		sr.cr4 |= CR4_OSXSAVE;
	sr.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	return (int)__vmm_ioctl(v->fd, KVM_SET_SREGS, &sr);
}

static int setup_msrs(struct vmm_vcpu *v)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[4];
	} m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 4;
	m.e[0].index = MSR_STAR;
	m.e[0].data =
	    ((uint64_t)DUNE_SEL_KDATA << 48) | ((uint64_t)DUNE_SEL_KCODE << 32);
	m.e[1].index = MSR_LSTAR;
	m.e[1].data = (uint64_t)(uintptr_t)gl_syscall_entry;
	m.e[2].index = MSR_SFMASK;
	m.e[2].data = SFMASK_BITS;
	m.e[3].index = MSR_KERNEL_GS_BASE;
	m.e[3].data = 0;
	long r = __vmm_ioctl(v->fd, KVM_SET_MSRS, &m);
	return r == 4 ? 0 : (r < 0 ? (int)r : -EIO);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Guest TSC == host TSC, so the vDSO computes the right time in the guest
 * without an exit. */
static void setup_tsc(struct vmm_vcpu *v)
{
	uint64_t off = 0;
	struct kvm_device_attr a = {.group = KVM_VCPU_TSC_CTRL,
				    .attr = KVM_VCPU_TSC_OFFSET,
				    .addr = (uint64_t)(uintptr_t)&off};
	if (!__vmm_ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &a) &&
	    !__vmm_ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a))
		return;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.e.index = MSR_IA32_TSC;
	m.e.data = rdtsc();
	__vmm_ioctl(v->fd, KVM_SET_MSRS, &m);
}

static int setup_fpu(struct vmm_vcpu *v)
{
	struct kvm_fpu f;
	uint32_t mxcsr;
	uint16_t fcw;
	memset(&f, 0, sizeof(f));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fcw));
	f.fcw = fcw;
	f.mxcsr = mxcsr;
	long r = __vmm_ioctl(v->fd, KVM_SET_FPU, &f);
	if (r)
		return (int)r;
	if (v->vm->has_xcrs) {
		struct kvm_xcrs x;
		memset(&x, 0, sizeof(x));
		x.nr_xcrs = 1;
		x.xcrs[0].xcr = 0;
		x.xcrs[0].value = v->vm->xcr0;
		r = __vmm_ioctl(v->fd, KVM_SET_XCRS, &x);
		if (r) {
			/* A state component KVM does not offer the guest
			 * (AMX, say): fall back to x87/SSE/AVX. */
			x.xcrs[0].value &= 0x7;
			r = __vmm_ioctl(v->fd, KVM_SET_XCRS, &x);
		}
		if (r)
			return (int)r;
	}
	return 0;
}

/* The KVM side of a vCPU: fd, run page, CPUID, GDT/TSS block, MSRs, FPU.
 * KVM cannot destroy a vCPU before its VM, so these are pooled and reused
 * by later threads (vmm_vcpu_release). */
static int vcpu_kvm_init(struct vmm *vm, struct vmm_vcpu *v)
{
	static const uint8_t ring3_ports[] = {DUNE_PORT_SYSCALL};
	int r;
	v->fd = vmm_fd_high(
	    (int)__vmm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(long)v->id));
	if (v->fd < 0)
		return v->fd;
	v->run = vmm_mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED, v->fd, 0);
	if (vmm_mmap_failed(v->run)) {
		r = (int)(long)v->run;
		v->run = NULL;
		return r;
	}
	r = (int)__vmm_ioctl(v->fd, KVM_SET_CPUID2, vm->cpuid);
	if (r)
		return r;
	v->block =
	    vm->arena + ARENA_VCPU_OFF + (uint64_t)v->id * VCPU_BLOCK_SIZE;
	uint64_t tss = (uint64_t)(uintptr_t)(v->block + VCPU_TSS_OFF);
	gl_build_gdt((uint64_t *)(v->block + VCPU_GDT_OFF), tss, TSS_LIMIT);
	gl_build_tss(
	    v->block + VCPU_TSS_OFF,
	    (uint64_t)(uintptr_t)(v->block + VCPU_IST_OFF + VCPU_IST_SIZE),
	    ring3_ports, (int)sizeof(ring3_ports));
	/* Ring-3 handlers (upcalls) run on a stack of their own, in the
	 * user-accessible pool: the thread's stack may be what faulted. The
	 * ring-0 stub finds its top in the vCPU block (layout.h). */
	uint64_t up;
	vmm_mem_lock(vm);
	r = vmm_pool_alloc_contig(vm, UPCALL_STACK_SIZE, &up);
	vmm_mem_unlock(vm);
	if (r)
		return r;
	*(uint64_t *)(v->block + VCPU_UPSTACK_PTR_OFF) = up + UPCALL_STACK_SIZE;
	r = setup_msrs(v);
	if (r)
		return r;
	setup_tsc(v);
	v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	return 0;
}

static void vcpu_free(struct vmm *vm, struct vmm_vcpu *v)
{
	if (v->run)
		vmm_sys2(SYS_munmap, v->run, vm->run_size);
	if (v->fd >= 0)
		vmm_close(v->fd);
	vmm_free(v->xsave, (size_t)vm->xsave_size);
	vmm_free(v, sizeof(*v));
}

static struct vmm_vcpu *vcpu_get(struct vmm *vm, int *err)
{
	struct vmm_vcpu *v;
	vmm_spin_lock(&vm->vcpu_lock);
	v = vm->vcpu_pool;
	if (v)
		vm->vcpu_pool = v->pool_next;
	vmm_spin_unlock(&vm->vcpu_lock);
	if (v)
		return v;
	v = vmm_zalloc(sizeof(*v));
	if (!v) {
		*err = -ENOMEM;
		return NULL;
	}
	v->vm = vm;
	v->fd = -1;
	v->id = atomic_fetch_add(&vm->next_vcpu, 1);
	v->xsave = vmm_zalloc((size_t)vm->xsave_size);
	*err = -ENOMEM;
	if (v->xsave && (uint64_t)v->id < VMM_MAX_VCPUS) {
		*err = vcpu_kvm_init(vm, v);
		if (!*err) {
			vm->vcpus[v->id] = v;
			return v;
		}
	} else if (v->xsave) {
		*err = -EAGAIN; /* more live threads than vCPU blocks */
	}
	vcpu_free(vm, v);
	return NULL;
}

struct vmm_vcpu *vmm_vcpu_create(struct vmm *vm, int *err)
{
	struct vmm_vcpu *v = vcpu_get(vm, err);
	if (!v)
		return NULL;
	int r = setup_fpu(v);
	if (r)
		goto fail;
	r = -ENOMEM;
	v->mon_stack_size = MON_STACK_SIZE;
	v->mon_stack = vmm_mmap(NULL, v->mon_stack_size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (vmm_mmap_failed(v->mon_stack)) {
		v->mon_stack = NULL;
		goto fail;
	}
	r = vmm_mem_add_private(vm, (uint64_t)(uintptr_t)v->mon_stack,
				(uint64_t)(uintptr_t)v->mon_stack +
				    v->mon_stack_size);
	if (r) {
		vmm_sys2(SYS_munmap, v->mon_stack, v->mon_stack_size);
		v->mon_stack = NULL;
		goto fail;
	}
	atomic_fetch_add(&vm->nvcpus, 1);
	return v;
fail:
	vmm_vcpu_release(v, 0);
	*err = r;
	return NULL;
}

void vmm_vcpu_release(struct vmm_vcpu *v, int counted)
{
	struct vmm *vm = v->vm;
	if (v->mon_stack)
		vmm_mem_del_private(vm, (uint64_t)(uintptr_t)v->mon_stack,
				    (uint64_t)(uintptr_t)v->mon_stack +
					v->mon_stack_size);
	/* Forget the stack first: vmm_current() must not find it once it is
	 * someone else's to unmap. */
	v->mon_stack = NULL;
	v->mon_stack_size = 0;
	atomic_store(&v->pending, 0);
	atomic_store(&v->held, 0);
	memset(&v->altstack, 0, sizeof(v->altstack));
	v->fault_addr = 0;
	v->fault_repeat = 0;
	v->vfork_child = 0;
	v->in_user = 0;
	vmm_signal_drop_actions(v);
	if (counted)
		atomic_fetch_sub(&vm->nvcpus, 1);
	vmm_spin_lock(&vm->vcpu_lock);
	v->pool_next = vm->vcpu_pool;
	vm->vcpu_pool = v;
	vmm_spin_unlock(&vm->vcpu_lock);
}

void vmm_vcpu_free_all(struct vmm *vm)
{
	for (int i = 0;
	     i < atomic_load(&vm->next_vcpu) && (uint64_t)i < VMM_MAX_VCPUS;
	     i++) {
		if (vm->vcpus[i])
			vcpu_free(vm, vm->vcpus[i]);
		vm->vcpus[i] = NULL;
	}
	vm->vcpu_pool = NULL;
}

struct vmm_vcpu *vmm_current(void)
{
	struct vmm *vm = vmm_g;
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	if (!vm)
		return NULL;
	int n = atomic_load(&vm->next_vcpu);
	for (int i = 0; i < n && (uint64_t)i < VMM_MAX_VCPUS; i++) {
		struct vmm_vcpu *v = vm->vcpus[i];
		if (v && v->mon_stack &&
		    sp >= (uint64_t)(uintptr_t)v->mon_stack &&
		    sp < (uint64_t)(uintptr_t)v->mon_stack + v->mon_stack_size)
			return v;
	}
	return NULL;
}

int vmm_vcpu_load_sregs(struct vmm_vcpu *v, uint64_t fs_base, uint64_t gs_base)
{
	return setup_sregs(v, fs_base, gs_base);
}

int vmm_vcpu_load(struct vmm_vcpu *v, const struct kvm_regs *regs,
		  uint64_t fs_base, uint64_t gs_base)
{
	int r = setup_sregs(v, fs_base, gs_base);
	if (r)
		return r;
	return (int)__vmm_ioctl(v->fd, KVM_SET_REGS, regs);
}

_Noreturn void vmm_die(const char *what, struct vmm_vcpu *v)
{
	char a[24], b[24], c[24];
	vmm_msg("dune: ", what, "\n");
	if (v && v->run) {
		struct kvm_regs *r = &v->run->s.regs.regs;
		vmm_msg("dune:   rip=", vmm_fmt_hex(a, r->rip), NULL);
		vmm_msg(" rsp=", vmm_fmt_hex(b, r->rsp), NULL);
		vmm_msg(" cr2=", vmm_fmt_hex(c, v->run->s.regs.sregs.cr2),
			"\n");
	}
	/* Die of SIGABRT like abort(), whatever the guest did to it. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	vmm_sys4(SYS_rt_sigaction, SIGABRT, &sa, NULL, 8);
	uint64_t set = 1ull << (SIGABRT - 1);
	vmm_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, 8);
	vmm_sys3(SYS_tgkill, vmm_sys0(SYS_getpid), vmm_gettid(), SIGABRT);
	for (;;)
		vmm_sys1(SYS_exit_group, 134);
}

/* ---- exits ------------------------------------------------------------ */
/* Guest-settable RFLAGS bits (CF PF AF ZF SF TF DF OF AC ID); IF and the
 * reserved bit 1 are always set, IOPL never. */
#define RFLAGS_USER 0x240dd5ull
#define RFLAGS_FIXED 0x202ull

uint64_t vmm_sanitize_rflags(uint64_t f)
{
	return (f & RFLAGS_USER) | RFLAGS_FIXED;
}

/* A #PF at addr in state f (rip, rsp, flags; GPRs in the vCPU): map what
 * the host allows, or deliver the signal a native access gets. from_trap:
 * f is the ring-0 stub's frame, so a stale TLB entry can be dropped on the
 * way back (gl_flush_ret). */
static void page_fault(struct vmm_vcpu *v, uint64_t addr,
		       struct dune_trap_frame *f, int from_trap)
{
	int code;
	/* A root sharing the process's top-level entries missed a new one. */
	if (vmm_ram_refresh_root(v->vm, v->run->s.regs.sregs.cr3))
		return;
	uint64_t before = vmm_mem_pte(v->vm, addr);
	int sig = vmm_mem_fault(v->vm, addr, f->err, &code);
	if (!sig) {
		/* A fault that changed nothing, again and again at the same
		 * place, is one the host allows but the guest cannot get
		 * past: give the program its SIGSEGV rather than spin.
		 * Progress resets the count. */
		uint64_t after = vmm_mem_pte(v->vm, addr);
		if (after != before || v->fault_addr != addr)
			v->fault_repeat = 0;
		else if (++v->fault_repeat > 4) {
			v->fault_addr = 0;
			vmm_signal_force(v, SIGSEGV, SEGV_ACCERR, addr, f);
			return;
		}
		v->fault_addr = addr;
		if (from_trap && (f->err & DUNE_PF_P)) {
			/* The PTE allowed less before: drop the stale TLB
			 * entry on the way back (invlpg). */
			v->run->s.regs.regs.rip =
			    (uint64_t)(uintptr_t)gl_flush_ret;
			v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		}
		return;
	}
	v->fault_addr = 0;
	vmm_signal_force(v, sig, code, addr, f);
}

long vmm_pf_pass(struct vmm_vcpu *v, gva_t tfp, uint64_t addr, uint64_t err)
{
	struct kvm_regs *regs = &v->run->s.regs.regs;
	struct dune_tf tf;
	if (vmm_copy_from_guest(v->vm, &tf, tfp, sizeof(tf)))
		return -EFAULT;
	atomic_fetch_add(&v->vm->st_faults, 1);
	struct dune_trap_frame f = {DUNE_VEC_PF, err, tf.rip, tf.cs,
				    vmm_sanitize_rflags(tf.rflags), tf.rsp,
				    tf.ss};
	vmm_regs_from_tf(regs, &tf);
	page_fault(v, addr, &f, 0);
	regs->rip = f.rip; /* the fault's state, or a signal handler's */
	regs->rsp = f.rsp;
	regs->rflags = vmm_sanitize_rflags(f.rflags);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vmm_vcpu_set_app_segments(v);
	return 0;
}

static void handle_trap(struct vmm_vcpu *v)
{
	struct kvm_regs *regs = &v->run->s.regs.regs;
	struct kvm_sregs *sregs = &v->run->s.regs.sregs;
	uint64_t ist_lo = (uint64_t)(uintptr_t)(v->block + VCPU_IST_OFF);
	uint64_t ist_hi = ist_lo + VCPU_IST_SIZE;
	struct dune_trap_frame *f = (void *)(uintptr_t)regs->rsp;
	int code;

	if (regs->rsp < ist_lo || regs->rsp + sizeof(*f) > ist_hi)
		vmm_die("trap exit with a bad ring-0 stack", v);
	atomic_fetch_add(&v->vm->st_faults, 1);
	if (v->in_user) { /* code run by dune_jump_to_user() */
		vmm_user_exit(v, DUNE_RET_FAULT, f, sregs->cr2);
		return;
	}
	if ((f->cs & 3) != (uint64_t)app_cpl(v->vm)) {
		char a[24], b[24];
		vmm_msg("dune: exception ", vmm_fmt_dec(a, (long)f->vec), NULL);
		vmm_msg(" in guestlib's ring 0 at ", vmm_fmt_hex(b, f->rip),
			"\n");
		vmm_die("guest kernel fault", v);
	}
	switch (f->vec) {
	case DUNE_VEC_PF:
		page_fault(v, sregs->cr2, f, 1);
		return;
	case DUNE_VEC_DE:
		vmm_signal_force(v, SIGFPE, FPE_INTDIV, f->rip, f);
		return;
	case DUNE_VEC_UD:
		vmm_signal_force(v, SIGILL, ILL_ILLOPN, f->rip, f);
		return;
	case DUNE_VEC_BP:
		vmm_signal_force(v, SIGTRAP, SI_KERNEL, 0, f);
		return;
	case DUNE_VEC_DB:
		vmm_signal_force(v, SIGTRAP, TRAP_BRKPT, f->rip, f);
		return;
	case DUNE_VEC_MF:
	case DUNE_VEC_XM:
		vmm_signal_force(v, SIGFPE, FPE_FLTINV, f->rip, f);
		return;
	case DUNE_VEC_AC:
		vmm_signal_force(v, SIGBUS, BUS_ADRALN, f->rip, f);
		return;
	case DUNE_VEC_GP:
	case DUNE_VEC_SS:
	case DUNE_VEC_NP:
	case DUNE_VEC_TS:
	case DUNE_VEC_OF:
	case DUNE_VEC_BR:
		vmm_signal_force(v, SIGSEGV, SI_KERNEL, 0, f);
		return;
	default: {
		char a[24];
		vmm_msg("dune: unexpected exception vector ",
			vmm_fmt_dec(a, (long)f->vec), "\n");
		vmm_die("cannot continue", v);
	}
	}
	vmm_signal_force(v, SIGSEGV, code, sregs->cr2, f);
}

static void handle_hcall(struct vmm_vcpu *v)
{
	struct kvm_regs *regs = &v->run->s.regs.regs;
	switch (regs->rax) {
	case DUNE_HC_NOP:
		regs->rax = 0;
		break;
	case DUNE_HC_EXIT:
		vmm_sys1(SYS_exit_group, (long)regs->rdi);
		break;
	case DUNE_HC_PANIC: {
		char msg[256];
		if (vmm_copy_from_guest(v->vm, msg, regs->rdi, sizeof(msg) - 1))
			vmm_die("guest panic (unreadable message)", v);
		msg[sizeof(msg) - 1] = 0;
		vmm_msg("dune: guest panic: ", msg, "\n");
		vmm_die("guest panic", v);
	}
	default:
		regs->rax = (uint64_t)-ENOSYS; /* validated: unknown call */
		break;
	}
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

/* An in/out the program itself executed: guest ring 0 in ring-0 mode
 * (no I/O bitmap applies there), or a ring-3 `out` to the port the TSS
 * grants for the software-KVM syscall quirk. Natively (no ioperm) it is a
 * #GP: SIGSEGV with SI_KERNEL; under dune_jump_to_user() a #GP fault for
 * the caller. Nothing reaches a port handler. */
static void io_fault(struct vmm_vcpu *v)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	if (v->in_user) {
		struct dune_trap_frame f = {
		    .vec = DUNE_VEC_GP, .rip = r->rip, .rflags = r->rflags,
		    .rsp = r->rsp};
		vmm_user_exit(v, DUNE_RET_FAULT, &f, 0);
		return;
	}
	vmm_signal_force(v, SIGSEGV, SI_KERNEL, 0, NULL);
}

/* KVM_EXIT_IO: guestlib's stubs talk to the vmm through the syscall and
 * trap ports; the hypercall port is open to any guest ring-0 code (the
 * ABI of freestanding ring-0 payloads, docs/abi.md). Every other in/out
 * is the program's and faults as it would natively. KVM leaves rip at the
 * `out` and skips it on the next KVM_RUN unless the handler moved rip. */
static void handle_io(struct vmm_vcpu *v)
{
	const struct kvm_run *run = v->run;
	int out = run->io.direction == KVM_EXIT_IO_OUT;
	int cpl0 = (run->s.regs.sregs.cs.selector & 3) == 0;
	int stub = vmm_in_guestlib_text(run->s.regs.regs.rip);
	if (out && cpl0 && run->io.port == DUNE_PORT_HCALL)
		handle_hcall(v);
	else if (out && stub && run->io.port == DUNE_PORT_SYSCALL)
		vmm_handle_syscall(v);
	else if (out && stub && run->io.port == DUNE_PORT_TRAP)
		handle_trap(v);
	else
		io_fault(v);
}

static void handle_memory_fault(struct vmm_vcpu *v)
{
	/* KVM could not back a guest access and (on this KVM) does not say
	 * which: make the retry fault visibly instead. A third failure in a
	 * row means that did not help: a guest PTE points at host memory
	 * that is gone (written by hand, or after munmap), which natively
	 * would be a SIGSEGV. */
	if (++v->efault_repeat > 2)
		vmm_unmapped_access(v);
	/* A file shrank, or a thread outside the guest changed mappings
	 * (e.g. made a page read-only): re-sync everything. */
	vmm_mem_sync(v->vm, 0, GVA_USER_END);
}

/* Flush v's TLB from the host: changing CR4 (PGE there and back) makes
 * KVM reset the vCPU's MMU context, which drops every cached
 * translation. Pending sync-register changes go in with it. */
static void flush_tlb(struct vmm_vcpu *v)
{
	struct kvm_sregs sr = v->run->s.regs.sregs;
	if (!(v->run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) &&
	    __vmm_ioctl(v->fd, KVM_GET_SREGS, &sr))
		vmm_die("KVM_GET_SREGS failed", v);
	sr.cr4 ^= 1ull << 7; /* PGE */
	long r = __vmm_ioctl(v->fd, KVM_SET_SREGS, &sr);
	sr.cr4 ^= 1ull << 7;
	if (r || __vmm_ioctl(v->fd, KVM_SET_SREGS, &sr))
		vmm_die("cannot flush a vCPU's TLB (KVM_SET_SREGS)", v);
	v->run->s.regs.sregs = sr;
	v->run->kvm_dirty_regs &= ~(uint64_t)KVM_SYNC_X86_SREGS;
}

long vmm_tlb_shootdown(struct vmm_vcpu *self)
{
	struct vmm *vm = self->vm;
	uint64_t gen = atomic_fetch_add(&vm->tlb_gen, 1) + 1;
	int n = atomic_load(&vm->next_vcpu);
	atomic_store(&self->tlb_seen, gen); /* the caller flushed itself */
	for (int i = 0; i < n && i < (int)VMM_MAX_VCPUS; i++) {
		struct vmm_vcpu *o = vm->vcpus[i];
		if (o && o != self && atomic_load(&o->in_guest) &&
		    atomic_load(&o->tlb_seen) < gen)
			vmm_kick(o);
	}
	for (int i = 0; i < n && i < (int)VMM_MAX_VCPUS; i++) {
		struct vmm_vcpu *o = vm->vcpus[i];
		for (int k = 1; o && o != self && atomic_load(&o->in_guest) &&
				atomic_load(&o->tlb_seen) < gen;
		     k++) {
			vmm_sys0(SYS_sched_yield);
			if (!(k & 1023))
				vmm_kick(o); /* it may have masked us */
		}
	}
	return 0;
}

_Noreturn void vmm_vcpu_run(struct vmm_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vmm *vm = v->vm;
	v->tid = vmm_gettid();
	for (;;) {
		vmm_signal_deliver_pending(v);
		/* A shootdown sees in_guest set before we read its number:
		 * either we flush now or it kicks us out again. */
		atomic_store(&v->in_guest, 1);
		uint64_t gen = atomic_load(&vm->tlb_gen);
		if (atomic_load(&v->tlb_seen) != gen) {
			flush_tlb(v);
			atomic_store(&v->tlb_seen, gen);
		}
		long r = __vmm_ioctl(v->fd, KVM_RUN, NULL);
		atomic_store(&v->in_guest, 0);
		uint64_t t0 = vmm_now_ns();
		atomic_fetch_add(&vm->st_exits, 1);
		if (r < 0) {
			run->immediate_exit = 0;
			if (r == -EINTR || r == -EAGAIN)
				continue;
			if (r == -EFAULT) {
				handle_memory_fault(v);
				continue;
			}
			vmm_die("KVM_RUN failed", v);
		}
		v->efault_repeat = 0;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_MMIO:
			/* A guest PTE points at guest-physical memory no
			 * memslot backs (never granted, or taken back): the
			 * access gets no data, the process a fatal SIGSEGV. */
			vmm_unbacked_access(v, run->mmio.phys_addr);
		case KVM_EXIT_INTERNAL_ERROR:
			/* Guest code runs natively (VT-x/AMD-V: at any CPL;
			 * software KVM: at CPL3): KVM emulates it only for an
			 * access no memslot backs, and gives up on the
			 * instructions it cannot emulate (SSE, ...). */
			if ((app_cpl(vm) == 3 || vm->hw_virt) &&
			    run->internal.suberror ==
				KVM_INTERNAL_ERROR_EMULATION)
				vmm_unbacked_access(v, 0);
			if (app_cpl(vm) == 0 && !vm->hw_virt)
				vmm_die(
				    "KVM could not emulate a guest ring-0 "
				    "instruction: this host's KVM emulates "
				    "ring 0 and cannot run SSE/AVX code "
				    "there; use ring3 mode (DUNE_MODE=ring3)",
				    v);
			vmm_die("KVM internal error", v);
		case KVM_EXIT_SHUTDOWN:
			vmm_die("guest triple fault (shutdown)", v);
		case KVM_EXIT_FAIL_ENTRY:
			vmm_die("KVM could not enter the guest (bad state)", v);
		case KVM_EXIT_HLT:
			vmm_die("guest halted", v);
		default:
			vmm_die("unexpected KVM exit", v);
		}
		atomic_fetch_add(&vm->st_monitor_ns, vmm_now_ns() - t0);
	}
}
