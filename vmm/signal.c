/* vmm/signal.c: signals into the guest.
 *
 * The guest's signal actions live in a table here; on the host, every
 * signal the guest catches is routed to one monitor handler that records
 * it (and kicks KVM_RUN with immediate_exit). The exit loop then builds
 * the same rt_sigframe the kernel would (siginfo, ucontext, xsave area) on
 * the guest stack and resumes the guest in its handler; rt_sigreturn is
 * emulated from that frame. Default actions are left to the host kernel,
 * so exit and wait statuses are exactly the native ones. The host mask of
 * the thread is the guest's mask (rt_sigprocmask is forwarded as is). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "dune/trap.h"
#include "sys.h"
#include "vmm.h"

/* The kernel's struct sigaction for rt_sigaction(2) on x86-64. */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* The kernel's x86-64 signal frame (arch/x86/include/asm/sigframe.h):
 * the handler is entered with rsp pointing at pretcode. glibc's
 * ucontext_t agrees with this layout up to and including uc_mcontext. */
struct kucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	stack_t uc_stack;
	mcontext_t uc_mcontext;
	uint64_t uc_sigmask;
};
struct rt_frame {
	uint64_t pretcode;
	struct kucontext uc;
	siginfo_t info;
};
_Static_assert(sizeof(mcontext_t) == 256, "sigcontext is 256 bytes");
_Static_assert(offsetof(struct rt_frame, info) == 8 + 304,
	       "rt_sigframe layout");

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1u << 31)
#endif

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

#define NSIG_K 64
#define SIGBIT(s) (1ull << ((s)-1))

static struct ksigaction gact[NSIG_K + 1];

/* The actions a vCPU's thread sees: the process's, or a private copy for
 * a vfork child (which shares memory, but not signal actions, with its
 * parent). */
static struct ksigaction *acts(const struct vmm_vcpu *v)
{
	return v && v->actions ? (struct ksigaction *)v->actions : gact;
}

#define ACTIONS_SIZE (sizeof(gact))

int vmm_signal_private_actions(struct vmm_vcpu *v)
{
	v->actions = vmm_zalloc(ACTIONS_SIZE);
	if (!v->actions)
		return -ENOMEM;
	memcpy(v->actions, gact, ACTIONS_SIZE);
	return 0;
}

void vmm_signal_drop_actions(struct vmm_vcpu *v)
{
	vmm_free(v->actions, ACTIONS_SIZE);
	v->actions = NULL;
}
static int signal_done;

extern void vmm_sigrestorer(void);
extern const char vmm_probe_insn[], vmm_probe_ret[];

static int sync_sig(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	       sig == SIGFPE || sig == SIGTRAP;
}

int vmm_probe_fixup(void *ucontext, int sig)
{
	ucontext_t *uc = ucontext;
	if (uc->uc_mcontext.gregs[REG_RIP] != (greg_t)(uintptr_t)vmm_probe_insn)
		return 0;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)vmm_probe_ret;
	uc->uc_mcontext.gregs[REG_RAX] = sig == SIGBUS ? -EBUSY : -EFAULT;
	return 1;
}

static long host_sigaction(int sig, const struct ksigaction *a)
{
	return vmm_sys4(SYS_rt_sigaction, sig, a, NULL, 8);
}

static void set_host_default(int sig)
{
	struct ksigaction a = {(uint64_t)SIG_DFL, SA_RESTORER,
			       (uint64_t)(uintptr_t)vmm_sigrestorer, 0};
	host_sigaction(sig, &a);
}

/* End the process with sig the way the kernel's default action would. */
static _Noreturn void die_by(int sig)
{
	uint64_t m = SIGBIT(sig);
	set_host_default(sig);
	vmm_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, NULL, 8);
	vmm_sys3(SYS_tgkill, vmm_sys0(SYS_getpid), vmm_gettid(), sig);
	for (;;) /* a default action that did not terminate (cannot be for
		    the core-dumping signals we use this for) */
		vmm_sys1(SYS_exit_group, 128 + sig);
}

_Noreturn void vmm_unmapped_access(struct vmm_vcpu *v)
{
	char b[24];
	vmm_msg("dune: a guest access at rip ",
		vmm_fmt_hex(b, v->run->s.regs.regs.rip),
		" reaches host memory that is not mapped (a page-table entry "
		"points where nothing is); killed by SIGSEGV\n");
	die_by(SIGSEGV);
}

_Noreturn void vmm_unbacked_access(struct vmm_vcpu *v, uint64_t gpa)
{
	char a[24], b[24];
	if (gpa) {
		vmm_msg("dune: access to guest-physical ", vmm_fmt_hex(a, gpa),
			NULL);
		vmm_msg(" at rip ", vmm_fmt_hex(b, v->run->s.regs.regs.rip),
			": no memslot backs it (no capability covers it); "
			"killed by SIGSEGV\n");
	} else {
		vmm_msg("dune: KVM could not emulate the instruction at rip ",
			vmm_fmt_hex(b, v->run->s.regs.regs.rip), NULL);
		vmm_msg(": an access to guest-physical memory no memslot "
			"backs (no capability covers it)",
			v->vm->hw_virt
			    ? "; killed by SIGSEGV\n"
			    : ", or a vector store to a page this software "
			      "KVM write-protects as a page table; killed by "
			      "SIGSEGV\n",
			NULL);
	}
	die_by(SIGSEGV);
}

/* The kick carries this value (sigqueue); any other DUNE_SIG_KICK is the
 * guest's. */
#define KICK_MAGIC 0x6b69636bul /* "kick" */

uint64_t vmm_host_mask(uint64_t m)
{
	return m & ~SIGBIT(DUNE_SIG_KICK);
}

void vmm_kick(struct vmm_vcpu *v)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = DUNE_SIG_KICK;
	si.si_code = SI_QUEUE;
	si.si_pid = (pid_t)vmm_sys0(SYS_getpid);
	si.si_value.sival_ptr = (void *)KICK_MAGIC;
	vmm_sys4(SYS_rt_tgsigqueueinfo, si.si_pid, v->tid, DUNE_SIG_KICK, &si);
}

static int is_kick(int sig, const siginfo_t *si)
{
	return sig == DUNE_SIG_KICK && si->si_code == SI_QUEUE &&
	       si->si_pid == (pid_t)vmm_sys0(SYS_getpid) &&
	       si->si_value.sival_ptr == (void *)KICK_MAGIC;
}

static void host_handler(int sig, siginfo_t *si, void *uc)
{
	struct vmm_vcpu *v = vmm_current();
	if ((sig == SIGSEGV || sig == SIGBUS) && vmm_probe_fixup(uc, sig))
		return;
	if (is_kick(sig, si)) {
		if (v) /* leave KVM_RUN (or do not enter): flush on the way */
			v->run->immediate_exit = 1;
		return;
	}
	if (sig == DUNE_SIG_KICK && v &&
	    gact[sig].handler == (uint64_t)SIG_IGN)
		return; /* the guest's own, ignored */
	if (sig == DUNE_SIG_KICK && v &&
	    gact[sig].handler == (uint64_t)SIG_DFL) {
		set_host_default(sig); /* the guest's own: terminate */
		vmm_sys3(SYS_tgkill, vmm_sys0(SYS_getpid), vmm_gettid(), sig);
		return;
	}
	if (!v) {
		/* A thread that never entered: run the guest's handler
		 * natively, as if we were not there. */
		struct ksigaction *a = &gact[sig];
		if (a->handler == (uint64_t)SIG_DFL) {
			set_host_default(sig);
			if (!sync_sig(sig) || si->si_code <= 0)
				vmm_sys3(SYS_tgkill, vmm_sys0(SYS_getpid),
					 vmm_gettid(), sig);
			return;
		}
		if (a->handler != (uint64_t)SIG_IGN)
			((void (*)(int, siginfo_t *, void *))a->handler)(
			    sig, si, uc);
		return;
	}
	if (sync_sig(sig) && si->si_code > 0) {
		/* The monitor itself faulted: that is our bug. */
		vmm_msg("dune: the monitor crashed (host fault inside dune)\n",
			NULL, NULL);
		set_host_default(sig);
		return; /* re-executes the fault and dies with the signal */
	}
	v->pend_info[sig] = *si;
	/* Keep sig blocked on the host until the guest has it, so a second
	 * real-time instance stays queued in the kernel instead of
	 * overwriting this one. build_frame() and the guest's sigreturn
	 * unblock it. */
	sigaddset(&((ucontext_t *)uc)->uc_sigmask, sig);
	atomic_fetch_or(&v->held, SIGBIT(sig));
	atomic_fetch_or(&v->pending, SIGBIT(sig));
	v->run->immediate_exit = 1;
}

static long install_host(int sig, const struct ksigaction *g)
{
	struct ksigaction h = {0, SA_RESTORER,
			       (uint64_t)(uintptr_t)vmm_sigrestorer, ~0ull};
	int catch =
	    g->handler != (uint64_t)SIG_DFL && g->handler != (uint64_t)SIG_IGN;
	if (catch || sig == SIGSEGV || sig == SIGBUS || sig == DUNE_SIG_KICK) {
		/* SIGSEGV/SIGBUS are always ours: probe fixups and crash
		 * reports need them. */
		h.handler = (uint64_t)(uintptr_t)host_handler;
		h.flags |= SA_SIGINFO;
	} else {
		h.handler = g->handler;
	}
	h.flags |= g->flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
	return host_sigaction(sig, &h);
}

int vmm_signal_init(struct vmm *vm)
{
	(void)vm;
	if (signal_done)
		return 0;
	for (int sig = 1; sig <= NSIG_K; sig++) {
		struct ksigaction cur;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (vmm_sys4(SYS_rt_sigaction, sig, NULL, &cur, 8))
			continue;
		gact[sig] = cur;
		long r = install_host(sig, &cur);
		if (r && sig < SIGRTMIN)
			return (int)r;
	}
	signal_done = 1;
	return 0;
}

void vmm_signal_fini(void)
{
	for (int sig = 1; sig <= NSIG_K; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			host_sigaction(sig, &gact[sig]);
	signal_done = 0;
}

long vmm_sys_rt_sigaction(struct vmm_vcpu *v, int sig, gva_t act, gva_t oact,
			  size_t setsize)
{
	struct ksigaction n, old;
	if (setsize != 8)
		return -EINVAL;
	if (sig < 1 || sig > NSIG_K)
		return -EINVAL;
	if (act && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	old = acts(v)[sig];
	if (act) {
		if (vmm_copy_from_guest(v->vm, &n, act, sizeof(n)))
			return -EFAULT;
		n.mask &= ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
		long r = install_host(sig, &n);
		if (r)
			return r;
		acts(v)[sig] = n;
	}
	if (oact && vmm_copy_to_guest(v->vm, oact, &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

static int on_altstack(const struct vmm_vcpu *v, uint64_t sp)
{
	uint64_t lo = (uint64_t)(uintptr_t)v->altstack.ss_sp;
	return !(v->altstack.ss_flags & SS_DISABLE) && v->altstack.ss_size &&
	       sp > lo && sp <= lo + v->altstack.ss_size;
}

long vmm_sys_sigaltstack(struct vmm_vcpu *v, gva_t ss, gva_t oss)
{
	stack_t n, old = v->altstack;
	uint64_t sp = v->run->s.regs.regs.rsp;
	if (!old.ss_size)
		old.ss_flags = SS_DISABLE;
	else if (on_altstack(v, sp))
		old.ss_flags |= SS_ONSTACK;
	if (ss) {
		if (vmm_copy_from_guest(v->vm, &n, ss, sizeof(n)))
			return -EFAULT;
		if (on_altstack(v, sp))
			return -EPERM;
		if (n.ss_flags & ~(SS_DISABLE | SS_AUTODISARM))
			return -EINVAL;
		if (!(n.ss_flags & SS_DISABLE) &&
		    n.ss_size < (size_t)MINSIGSTKSZ)
			return -ENOMEM;
		if (n.ss_flags & SS_DISABLE) {
			n.ss_sp = NULL;
			n.ss_size = 0;
		}
		v->altstack = n;
	}
	if (oss && vmm_copy_to_guest(v->vm, oss, &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

/* Where the interrupted app state is: in the registers, or (parked in a
 * trap stub) rip/rsp/rflags in the trap frame and GPRs in the registers. */
struct gctx {
	struct kvm_regs *regs;
	__u64 *rip, *rsp, *rflags;
	const struct dune_trap_frame *tf; /* for err/trapno, or NULL */
	uint64_t cr2;
};

static void ctx_init(struct vmm_vcpu *v, struct gctx *c,
		     struct dune_trap_frame *tf)
{
	c->regs = &v->run->s.regs.regs;
	c->tf = tf;
	c->cr2 = v->run->s.regs.sregs.cr2;
	if (tf) {
		c->rip = (__u64 *)&tf->rip;
		c->rsp = (__u64 *)&tf->rsp;
		c->rflags = (__u64 *)&tf->rflags;
	} else {
		c->rip = &c->regs->rip;
		c->rsp = &c->regs->rsp;
		c->rflags = &c->regs->rflags;
	}
}

static void save_gregs(const struct gctx *c, greg_t *g)
{
	const struct kvm_regs *r = c->regs;
	g[REG_R8] = (greg_t)r->r8;
	g[REG_R9] = (greg_t)r->r9;
	g[REG_R10] = (greg_t)r->r10;
	g[REG_R11] = (greg_t)r->r11;
	g[REG_R12] = (greg_t)r->r12;
	g[REG_R13] = (greg_t)r->r13;
	g[REG_R14] = (greg_t)r->r14;
	g[REG_R15] = (greg_t)r->r15;
	g[REG_RDI] = (greg_t)r->rdi;
	g[REG_RSI] = (greg_t)r->rsi;
	g[REG_RBP] = (greg_t)r->rbp;
	g[REG_RBX] = (greg_t)r->rbx;
	g[REG_RDX] = (greg_t)r->rdx;
	g[REG_RAX] = (greg_t)r->rax;
	g[REG_RCX] = (greg_t)r->rcx;
	g[REG_RSP] = (greg_t)*c->rsp;
	g[REG_RIP] = (greg_t)*c->rip;
	g[REG_EFL] = (greg_t)*c->rflags;
	g[REG_CSGSFS] = (greg_t)((DUNE_SEL_UCODE | 3) |
				 ((uint64_t)(DUNE_SEL_UDATA | 3) << 48));
	g[REG_ERR] = c->tf ? (greg_t)c->tf->err : 0;
	g[REG_TRAPNO] = c->tf ? (greg_t)c->tf->vec : 0;
	g[REG_OLDMASK] = 0;
	g[REG_CR2] = c->tf && c->tf->vec == DUNE_VEC_PF ? (greg_t)c->cr2 : 0;
}

/* Build the frame for sig on the guest stack and point the context at the
 * handler. Returns 0, or -EFAULT if the frame cannot be written (the
 * kernel's answer to that is SIGSEGV). */
static void apply_mask(struct vmm_vcpu *v);

static int build_frame(struct vmm_vcpu *v, struct gctx *c, int sig,
		       const siginfo_t *info, const uint64_t *base)
{
	struct vmm *vm = v->vm;
	struct ksigaction *a = &acts(v)[sig];
	struct rt_frame f;
	uint64_t sp = *c->rsp, mask;
	int onstack = on_altstack(v, sp);

	int to_alt = (a->flags & SA_ONSTACK) && v->altstack.ss_size &&
		     !onstack && !(v->altstack.ss_flags & SS_DISABLE);
	if (to_alt) {
		sp = (uint64_t)(uintptr_t)v->altstack.ss_sp +
		     v->altstack.ss_size;
	} else {
		sp -= 128; /* the red zone */
	}
	sp = (sp - (uint64_t)vm->xsave_size) & ~63ull;
	uint64_t fpstate = sp;
	sp -= sizeof(f);
	sp = ((sp + 8) & ~15ull) - 8; /* as if called: rsp+8 is 16-aligned */

	mask = v->guest_mask;
	memset(&f, 0, sizeof(f));
	f.pretcode = a->restorer;
	f.uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.uc_stack = v->altstack;
	if (!v->altstack.ss_size)
		f.uc.uc_stack.ss_flags = SS_DISABLE;
	else if (onstack)
		f.uc.uc_stack.ss_flags |= SS_ONSTACK;
	save_gregs(c, f.uc.uc_mcontext.gregs);
	f.uc.uc_mcontext.fpregs = (fpregset_t)(uintptr_t)fpstate;
	f.uc.uc_sigmask = mask;
	f.info = *info;
	if (__vmm_ioctl(v->fd, KVM_GET_XSAVE, v->xsave))
		return -EFAULT;
	if (vmm_copy_to_guest(vm, fpstate, v->xsave, (size_t)vm->xsave_size) ||
	    vmm_copy_to_guest(vm, sp, &f, sizeof(f)))
		return -EFAULT;

	*c->rip = a->handler;
	*c->rsp = sp;
	*c->rflags &= ~(0x100ull | 0x400ull); /* TF, DF */
	c->regs->rdi = (uint64_t)sig;
	c->regs->rsi = sp + offsetof(struct rt_frame, info);
	c->regs->rdx = sp + offsetof(struct rt_frame, uc);
	c->regs->rax = 0;
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	if (to_alt && (v->altstack.ss_flags & SS_AUTODISARM))
		v->altstack.ss_size = 0;

	atomic_fetch_and(&v->held, ~SIGBIT(sig));
	/* The handler runs with the mask in effect at delivery (a
	 * sigsuspend's temporary one, say), plus its own; the frame keeps the
	 * mask to return to. */
	uint64_t nmask = (base ? *base : mask) | a->mask;
	if (!(a->flags & SA_NODEFER))
		nmask |= SIGBIT(sig);
	v->guest_mask = nmask & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
	apply_mask(v);
	if (a->flags & SA_RESETHAND) {
		a->handler = (uint64_t)SIG_DFL;
		install_host(sig, a);
	}
	atomic_fetch_add(&vm->st_signals, 1);
	return 0;
}

static int has_handler(const struct vmm_vcpu *v, int sig)
{
	return acts(v)[sig].handler != (uint64_t)SIG_DFL &&
	       acts(v)[sig].handler != (uint64_t)SIG_IGN;
}

void vmm_signal_force(struct vmm_vcpu *v, int sig, int code, uint64_t addr,
		      struct dune_trap_frame *tf)
{
	uint64_t mask;
	struct gctx c;
	siginfo_t si;
	mask = v->guest_mask;
	if (vmm_cfg.trace_fd >= 0)
		vmm_trace_signal(v, sig, code, addr,
				 tf ? tf->rip : v->run->s.regs.regs.rip);
	if (!has_handler(v, sig) || (mask & SIGBIT(sig)))
		die_by(sig); /* as force_sig(): blocked or default kills */
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = code;
	si.si_addr = (void *)(uintptr_t)addr;
	ctx_init(v, &c, tf);
	if (build_frame(v, &c, sig, &si, NULL))
		die_by(SIGSEGV);
}

/* The host mask of this thread: the guest's mask plus the signals held
 * for the guest (recorded, not framed yet). */
static void apply_mask(struct vmm_vcpu *v)
{
	uint64_t m = vmm_host_mask(v->guest_mask | atomic_load(&v->held));
	vmm_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, 8);
}

long vmm_sys_rt_sigprocmask(struct vmm_vcpu *v, int how, gva_t set, gva_t oset,
			    size_t size)
{
	uint64_t n, old = v->guest_mask;
	if (size != 8)
		return -EINVAL;
	if (set) {
		if (vmm_copy_from_guest(v->vm, &n, set, sizeof(n)))
			return -EFAULT;
		if (how == SIG_BLOCK)
			n = old | n;
		else if (how == SIG_UNBLOCK)
			n = old & ~n;
		else if (how != SIG_SETMASK)
			return -EINVAL;
	}
	if (oset && vmm_copy_to_guest(v->vm, oset, &old, sizeof(old)))
		return -EFAULT;
	if (set) {
		v->guest_mask = n & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
		apply_mask(v); /* newly unblocked host signals arrive now */
	}
	return 0;
}

/* Unblock a held signal we will not frame (its action changed). */
static void release_held(struct vmm_vcpu *v, int sig)
{
	uint64_t m = SIGBIT(sig);
	if (atomic_fetch_and(&v->held, ~m) & m)
		vmm_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, NULL, 8);
}

void vmm_signal_deliver_pending(struct vmm_vcpu *v)
{
	uint64_t p = atomic_load(&v->pending);
	if (!p)
		return;
	struct kvm_regs *r = &v->run->s.regs.regs;
	if (v->in_user) /* the caller of dune_jump_to_user() gets it */
		vmm_user_exit(v, DUNE_RET_SIGNAL, NULL, 0);
	struct dune_trap_frame *tf = NULL;
	if (vmm_in_guestlib_text(r->rip)) {
		/* Parked at a trap stub's `out`: the app state is in the
		 * frame. Anywhere else in guestlib: deliver at the next exit.
		 */
		if (v->run->exit_reason != KVM_EXIT_IO ||
		    v->run->io.port != DUNE_PORT_TRAP)
			return;
		tf = (void *)(uintptr_t)r->rsp;
	}
	/* Lowest number first, each only while not blocked, as the kernel
	 * delivers: a handler's mask may hold back the rest until its
	 * sigreturn. A syscall that ran with a temporary mask (sigsuspend,
	 * ppoll, ...) leaves it in deliver_mask for this delivery. */
	uint64_t blocked = v->guest_mask;
	if (v->deliver_mask_set) {
		blocked = v->deliver_mask;
		v->deliver_mask_set = 0;
	}
	for (int sig = 1; sig <= NSIG_K; sig++) {
		uint64_t bit = SIGBIT(sig);
		if (!(p & bit) || (blocked & bit))
			continue;
		atomic_fetch_and(&v->pending, ~bit);
		struct ksigaction *a = &acts(v)[sig];
		if (a->handler == (uint64_t)SIG_IGN ||
		    a->handler == (uint64_t)SIG_DFL)
			release_held(v, sig);
		if (a->handler == (uint64_t)SIG_IGN)
			continue;
		if (a->handler == (uint64_t)SIG_DFL) {
			/* The action changed after the signal arrived: let the
			 * kernel apply the default (terminate, stop, ...). */
			set_host_default(sig);
			vmm_sys3(SYS_tgkill, vmm_sys0(SYS_getpid), vmm_gettid(),
				 sig);
			install_host(sig, a);
			continue;
		}
		struct gctx c;
		ctx_init(v, &c, tf);
		if (build_frame(v, &c, sig, &v->pend_info[sig], &blocked))
			die_by(SIGSEGV);
		blocked = v->guest_mask; /* the handler's */
	}
}

/* Syscalls that never restart after a handler (signal(7)). */
static int never_restarts(long nr)
{
	switch (nr) {
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_select:
	case SYS_pselect6:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_io_getevents:
	case SYS_io_pgetevents:
	case SYS_msgrcv:
	case SYS_msgsnd:
	case SYS_semop:
	case SYS_semtimedop:
		return 1;
	default:
		return 0;
	}
}

/* The temporary signal mask a syscall ran with, if it takes one. */
static int temp_mask_of(struct vmm_vcpu *v, long nr, uint64_t *mask)
{
	const struct kvm_regs *r = &v->run->s.regs.regs;
	gva_t at = 0;
	switch (nr) {
	case SYS_rt_sigsuspend:
		at = r->rdi;
		break;
	case SYS_ppoll:
		at = r->r10;
		break;
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		at = r->r8;
		break;
	case SYS_pselect6: {
		uint64_t ss[2]; /* { const sigset_t *ss; size_t size; } */
		if (!r->r9 || vmm_copy_from_guest(v->vm, ss, r->r9, sizeof(ss)))
			return 0;
		at = ss[0];
		break;
	}
	default:
		return 0;
	}
	return at && !vmm_copy_from_guest(v->vm, mask, at, sizeof(*mask));
}

void vmm_signal_syscall_interrupted(struct vmm_vcpu *v, long nr)
{
	uint64_t p = atomic_load(&v->pending);
	if (temp_mask_of(v, nr, &v->deliver_mask))
		v->deliver_mask_set = 1;

	for (int sig = 1; sig <= NSIG_K; sig++) {
		if (!(p & SIGBIT(sig)) || !has_handler(v, sig))
			continue;
		if ((acts(v)[sig].flags & SA_RESTART) && !never_restarts(nr)) {
			/* Re-execute the syscall after the handler. */
			struct kvm_regs *r = &v->run->s.regs.regs;
			r->rax = (uint64_t)nr;
			r->rip -= 2; /* sizeof "syscall" */
			v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		}
		return; /* the first handler to run decides, as in Linux */
	}
}

long vmm_sys_rt_sigreturn(struct vmm_vcpu *v)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	struct kucontext uc;
	/* The handler's ret popped pretcode: rsp points at the ucontext. */
	if (vmm_copy_from_guest(v->vm, &uc, r->rsp, sizeof(uc)))
		return -EFAULT;
	greg_t *g = uc.uc_mcontext.gregs;
	if (uc.uc_mcontext.fpregs) {
		if (vmm_copy_from_guest(v->vm, v->xsave,
					(gva_t)(uintptr_t)uc.uc_mcontext.fpregs,
					(size_t)v->vm->xsave_size) ||
		    __vmm_ioctl(v->fd, KVM_SET_XSAVE, v->xsave))
			return -EFAULT;
	}
	r->r8 = (uint64_t)g[REG_R8];
	r->r9 = (uint64_t)g[REG_R9];
	r->r10 = (uint64_t)g[REG_R10];
	r->r11 = (uint64_t)g[REG_R11];
	r->r12 = (uint64_t)g[REG_R12];
	r->r13 = (uint64_t)g[REG_R13];
	r->r14 = (uint64_t)g[REG_R14];
	r->r15 = (uint64_t)g[REG_R15];
	r->rdi = (uint64_t)g[REG_RDI];
	r->rsi = (uint64_t)g[REG_RSI];
	r->rbp = (uint64_t)g[REG_RBP];
	r->rbx = (uint64_t)g[REG_RBX];
	r->rdx = (uint64_t)g[REG_RDX];
	r->rax = (uint64_t)g[REG_RAX];
	r->rcx = (uint64_t)g[REG_RCX];
	r->rsp = (uint64_t)g[REG_RSP];
	r->rip = (uint64_t)g[REG_RIP];
	r->rflags = vmm_sanitize_rflags((uint64_t)g[REG_EFL]);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vmm_vcpu_set_app_segments(v);
	v->guest_mask = uc.uc_sigmask & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
	apply_mask(v);
	return 0;
}
