/* libdune/dune.c: the public entry points (dune/dune.h, dune/trap.h). */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dune/dune.h"
#include "dune/trap.h"
#include "gl.h"
#include "sys.h"
#include "vmm.h"

_Static_assert(offsetof(struct vmm_entry_regs, rsp) == 48 &&
		   offsetof(struct vmm_entry_regs, rip) == 56,
	       "enter_x86_64.S stores rsp at 48 and rip at 56");

static char init_detail[256];

/* dune_is_inside() of this thread, remembered (set by dune_enter; a
 * thread made inside the guest asks once). Only libdune's guest-side code
 * uses it: the monitor never touches TLS. */
static __thread int inside_cache = -1;

int dune_init(enum dune_mode mode, unsigned flags)
{
	if (vmm_g)
		return 0;
	init_detail[0] = 0;
	int r = vmm_create(mode, init_detail, sizeof(init_detail));
	if (!r) {
		r = vmm_signal_init(vmm_g);
		if (r) {
			snprintf(init_detail, sizeof(init_detail),
				 "cannot install signal handlers: %s",
				 strerror(-r));
			vmm_destroy(vmm_g);
		}
	}
	if (r && !(flags & DUNE_INIT_QUIET))
		fprintf(stderr, "dune: %s\n", init_detail);
	if (!r && (flags & DUNE_INIT_STATS)) {
		vmm_cfg.print_stats = 1;
		/* The program may close its stderr before it exits. */
		if (vmm_cfg.stats_fd < 0)
			vmm_cfg.stats_fd = vmm_fd_high(
			    (int)vmm_sys3(SYS_fcntl, 2, F_DUPFD_CLOEXEC, 3));
	}
	return r;
}

const char *dune_strerror_detail(void)
{
	return init_detail;
}

static _Noreturn void enter_cont(struct vmm_entry_regs *e)
{
	struct vmm_vcpu *v =
	    (struct vmm_vcpu *)((char *)e - offsetof(struct vmm_vcpu, entry));
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rbx = e->rbx;
	r.rbp = e->rbp;
	r.r12 = e->r12;
	r.r13 = e->r13;
	r.r14 = e->r14;
	r.r15 = e->r15;
	r.rsp = e->rsp;
	r.rip = e->rip;
	r.rflags = 0x202;
	r.rax = 0; /* dune_enter() returns 0 inside */
	if (__vmm_ioctl(v->fd, KVM_SET_REGS, &r))
		vmm_die("cannot load the entering thread's registers", v);
	vmm_vcpu_run(v);
}

int dune_enter(void)
{
	struct vmm_vcpu *v;
	uint64_t fs = 0, gs = 0;
	stack_t cur;
	int r;

	if (!vmm_g)
		return -EPERM;
	if (dune_is_inside())
		return -EBUSY;
	v = vmm_vcpu_create(vmm_g, &r);
	if (!v)
		return r;
	vmm_sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
	vmm_sys2(SYS_arch_prctl, ARCH_GET_GS, &gs);
	r = vmm_vcpu_load_sregs(v, fs, gs);
	if (r) {
		uint8_t *stack = v->mon_stack;
		size_t size = v->mon_stack_size;
		vmm_vcpu_release(v, 1);
		vmm_sys2(SYS_munmap, stack, size);
		return r;
	}
	vmm_sys4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &v->guest_mask, 8);
	/* The thread's sigaltstack becomes the guest's; host handlers run on
	 * the monitor stack. */
	if (!vmm_sys2(SYS_sigaltstack, NULL, &cur) &&
	    !(cur.ss_flags & SS_DISABLE)) {
		stack_t off = {.ss_flags = SS_DISABLE};
		v->altstack = cur;
		v->altstack.ss_flags &= ~SS_ONSTACK;
		vmm_sys2(SYS_sigaltstack, &off, NULL);
	}
	r = vmm_enter_asm(&v->entry, v->mon_stack + v->mon_stack_size,
			  enter_cont);
	inside_cache = 1; /* now in the guest */
	return r;
}

int dune_init_and_enter(enum dune_mode mode, unsigned flags)
{
	int r = dune_init(mode, flags);
	return r ? r : dune_enter();
}

int dune_destroy(void)
{
	if (!vmm_g)
		return 0;
	if (atomic_load(&vmm_g->nvcpus) > 0)
		return -EBUSY;
	vmm_signal_fini();
	vmm_destroy(vmm_g); /* grants, reservations and shared roots go too */
	if (dune_cap_forget)
		dune_cap_forget();
	return 0;
}

int dune_inside_cached(void)
{
	if (inside_cache < 0)
		inside_cache = dune_is_inside();
	return inside_cache;
}

int dune_is_inside(void)
{
	/* One forwarded syscall inside (the vmm answers), -ENOSYS outside. */
	return vmm_sys0(DUNE_SYS_QUERY) == DUNE_ABI_VERSION;
}

enum dune_mode dune_get_mode(void)
{
	return vmm_g ? vmm_g->mode : DUNE_MODE_AUTO;
}

void dune_get_stats(struct dune_stats *o)
{
	vmm_get_stats(o);
}

int dune_set_trace_fd(int fd)
{
	vmm_set_trace_fd(fd);
	return 0;
}

int dune_set_exec_env(const char *const *entries)
{
	return vmm_set_exec_env(entries);
}

int dune_set_exec_loader(const char *path)
{
	return vmm_set_exec_loader(path);
}

int dune_set_self_exe(const char *path)
{
	return vmm_set_self_exe(path);
}

int dune_host_info(struct dune_host_info *out)
{
	return vmm_probe_host(out);
}
