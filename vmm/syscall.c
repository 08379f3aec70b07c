/* vmm/syscall.c: forwarded syscalls. One exit per syscall: the vmm runs
 * the call on the thread that owns the vCPU (same TID, signal mask, fds)
 * and resumes the guest with the result. Calls that change the address
 * space, threads, signals or the process get handled here first. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "maps.h"
#include "sys.h"
#include "vmm.h"

#define ARG0(r) ((long)(r)->rdi)
#define ARG1(r) ((long)(r)->rsi)
#define ARG2(r) ((long)(r)->rdx)
#define ARG3(r) ((long)(r)->r10)
#define ARG4(r) ((long)(r)->r8)
#define ARG5(r) ((long)(r)->r9)

static uint64_t page_up(uint64_t x)
{
	return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* ---- address space ------------------------------------------------------ */
static long sync_result(struct vmm *vm, long ret, uint64_t a, uint64_t len)
{
	if (ret < 0 && ret > -4096)
		return ret;
	int r = vmm_mem_sync(vm, a, a + page_up(len));
	if (r == -ENOSPC) {
		vmm_msg("dune: out of KVM memslots: too many separate mappings\n",
			NULL, NULL);
		return -ENOMEM;
	}
	return ret;
}

static long sys_mmap(struct vmm_vcpu *v, struct kvm_regs *r)
{
	long ret = vmm_sys6(SYS_mmap, ARG0(r), ARG1(r), ARG2(r), ARG3(r),
			    ARG4(r), ARG5(r));
	if (ret < 0 && ret > -4096)
		return ret;
	long s = sync_result(v->vm, ret, (uint64_t)ret, (uint64_t)ARG1(r));
	if (s == -ENOMEM) {
		/* The guest could not see it: undo, as if mmap failed. */
		vmm_sys2(SYS_munmap, ret, ARG1(r));
		vmm_mem_sync(v->vm, (uint64_t)ret,
			     (uint64_t)ret + page_up((uint64_t)ARG1(r)));
	}
	return s;
}

static long sys_mremap(struct vmm_vcpu *v, struct kvm_regs *r)
{
	long ret = vmm_sys6(SYS_mremap, ARG0(r), ARG1(r), ARG2(r), ARG3(r),
			    ARG4(r), 0);
	if (ret < 0 && ret > -4096)
		return ret;
	vmm_mem_sync(v->vm, (uint64_t)ARG0(r),
		     (uint64_t)ARG0(r) + page_up((uint64_t)ARG1(r)));
	return sync_result(v->vm, ret, (uint64_t)ret, (uint64_t)ARG2(r));
}

static long sys_brk(struct vmm_vcpu *v, struct kvm_regs *r)
{
	uint64_t old = (uint64_t)vmm_sys1(SYS_brk, 0);
	long ret = vmm_sys1(SYS_brk, ARG0(r));
	uint64_t lo = old < (uint64_t)ret ? old : (uint64_t)ret;
	uint64_t hi = old < (uint64_t)ret ? (uint64_t)ret : old;
	lo &= ~(PAGE_SIZE - 1);
	if (hi > lo)
		vmm_mem_sync(v->vm, lo, page_up(hi));
	return ret;
}

static long sys_shm(struct vmm_vcpu *v, struct kvm_regs *r, long nr)
{
	struct vmm_vma vma;
	long ret;
	if (nr == SYS_shmdt) {
		int have = !vmm_maps_find((uint64_t)ARG0(r), &vma);
		ret = vmm_sys1(SYS_shmdt, ARG0(r));
		if (!ret && have)
			vmm_mem_sync(v->vm, vma.start, vma.end);
		return ret;
	}
	ret = vmm_sys3(SYS_shmat, ARG0(r), ARG1(r), ARG2(r));
	if ((ret >= 0 || ret < -4095) && !vmm_maps_find((uint64_t)ret, &vma))
		vmm_mem_sync(v->vm, vma.start, vma.end);
	return ret;
}

/* ---- threads and processes ---------------------------------------------- */
struct thread_start {
	struct kvm_regs regs;
	uint64_t fs_base, gs_base;
};

static void thread_start(void *arg)
{
	struct vmm_vcpu *v = arg;
	struct thread_start *ts = (void *)v->xsave; /* parked there by clone */
	struct kvm_regs regs = ts->regs;
	uint64_t fs = ts->fs_base, gs = ts->gs_base;
	if (vmm_vcpu_load(v, &regs, fs, gs))
		vmm_die("cannot load a new thread's vCPU", v);
	vmm_vcpu_run(v);
}

#define CLONE_THREAD_FLAGS (CLONE_VM)

static long sys_clone_thread(struct vmm_vcpu *v, struct kvm_regs *r)
{
	unsigned long flags = (unsigned long)ARG0(r);
	int err;
	if (!ARG1(r))
		return -EINVAL; /* a thread needs its own stack */
	struct vmm_vcpu *c = vmm_vcpu_create(v->vm, &err);
	if (!c)
		return -EAGAIN; /* as clone(2) when out of threads */
	struct thread_start *ts = (void *)c->xsave;
	_Static_assert(sizeof(struct thread_start) <= sizeof(struct kvm_xsave),
		       "thread_start fits the xsave scratch");
	ts->regs = *r;
	ts->regs.rax = 0;
	ts->regs.rsp = (uint64_t)ARG1(r);
	ts->regs.rip = r->rcx;
	ts->regs.rflags = vmm_sanitize_rflags(r->r11);
	ts->fs_base = (flags & CLONE_SETTLS) ? (uint64_t)ARG4(r)
					     : v->run->s.regs.sregs.fs.base;
	ts->gs_base = v->run->s.regs.sregs.gs.base;
	long ret = vmm_clone_asm(flags, c->mon_stack + c->mon_stack_size,
				 (int *)ARG2(r), (int *)ARG3(r),
				 (unsigned long)ARG4(r), thread_start, c);
	if (ret < 0) {
		vmm_sys2(SYS_munmap, c->mon_stack, c->mon_stack_size);
		vmm_vcpu_release(c, 1);
	}
	return ret;
}

/* A forked child owns a copy of the address space that the parent's VM
 * cannot serve (KVM binds a VM to its mm): give it a VM of its own. */
static _Noreturn void fork_child(struct vmm_vcpu *pv, struct kvm_regs *regs,
				 const struct kvm_xsave *fpu)
{
	struct vmm *old = pv->vm;
	enum dune_mode mode = old->mode;
	uint64_t fs = pv->run->s.regs.sregs.fs.base;
	uint64_t gs = pv->run->s.regs.sregs.gs.base;
	uint8_t *stack = pv->mon_stack;
	size_t stack_size = pv->mon_stack_size;
	char detail[160];
	int err;

	vmm_maps_reset();
	/* Drop the parent's VM from this process: fds and host memory. Other
	 * threads' monitor stacks were copied too: unmap them. */
	struct kvm_regs r = *regs;
	for (int i = 0; i < atomic_load(&old->next_vcpu) &&
			(uint64_t)i < VMM_MAX_VCPUS; i++) {
		struct vmm_vcpu *o = old->vcpus[i];
		if (o && o->mon_stack && o->mon_stack != stack)
			vmm_sys2(SYS_munmap, o->mon_stack, o->mon_stack_size);
	}
	vmm_destroy(old);
	if (vmm_create(mode, detail, sizeof(detail))) {
		vmm_msg("dune: forked child cannot create its VM: ", detail,
			"\n");
		vmm_sys1(SYS_exit_group, 127);
	}
	struct vmm_vcpu *v = vmm_vcpu_create(vmm_g, &err);
	if (!v)
		vmm_die("forked child cannot create its vCPU", NULL);
	/* Keep running on the stack we are on (the copy of the parent's
	 * monitor stack); the fresh one is not needed. */
	vmm_mem_del_private(vmm_g, (uint64_t)(uintptr_t)v->mon_stack,
			    (uint64_t)(uintptr_t)v->mon_stack + v->mon_stack_size);
	vmm_sys2(SYS_munmap, v->mon_stack, v->mon_stack_size);
	v->mon_stack = stack;
	v->mon_stack_size = stack_size;
	vmm_mem_add_private(vmm_g, (uint64_t)(uintptr_t)stack,
			    (uint64_t)(uintptr_t)stack + stack_size);
	if (vmm_vcpu_load(v, &r, fs, gs) ||
	    __vmm_ioctl(v->fd, KVM_SET_XSAVE, fpu))
		vmm_die("forked child cannot load its vCPU", v);
	vmm_vcpu_run(v);
}

static long sys_fork(struct vmm_vcpu *v, struct kvm_regs *r, long nr)
{
	unsigned long flags = SIGCHLD;
	int *ptid = NULL, *ctid = NULL;
	unsigned long tls = 0;
	if (nr == SYS_clone) {
		/* CLONE_VM without a thread (vfork, posix_spawn) becomes a
		 * fork that keeps vfork's ordering: the child cannot share a
		 * vCPU-less address space with a running parent. */
		flags = (unsigned long)ARG0(r) & ~(unsigned long)CLONE_VM;
		ptid = (int *)ARG2(r);
		ctid = (int *)ARG3(r);
		tls = (unsigned long)ARG4(r);
	} else if (nr == SYS_vfork) {
		flags = CLONE_VFORK | SIGCHLD;
	}
	struct kvm_regs child = *r;
	child.rax = 0;
	child.rip = r->rcx;
	child.rflags = vmm_sanitize_rflags(r->r11);
	if (nr == SYS_clone && ARG1(r))
		child.rsp = (uint64_t)ARG1(r);
	/* The guest FPU state lives in KVM, not in this thread's registers:
	 * carry it across in memory. */
	struct kvm_xsave fpu;
	long ret = __vmm_ioctl(v->fd, KVM_GET_XSAVE, &fpu);
	if (ret)
		return ret;
	ret = vmm_sys6(SYS_clone, (long)flags, 0, (long)ptid, (long)ctid,
		       (long)tls, 0);
	if (ret == 0)
		fork_child(v, &child, &fpu);
	return ret;
}

static _Noreturn void thread_exit(struct vmm_vcpu *v, long status)
{
	uint8_t *stack = v->mon_stack;
	size_t size = v->mon_stack_size;
	vmm_vcpu_release(v, 1);
	vmm_exit_thread_asm(stack, size, status);
}

static long sys_arch_prctl(struct vmm_vcpu *v, struct kvm_regs *r)
{
	long code = ARG0(r);
	long ret = vmm_sys2(SYS_arch_prctl, code, ARG1(r));
	if (ret)
		return ret;
	/* Keep the guest's segment bases equal to the host thread's. */
	if (code == ARCH_SET_FS) {
		v->run->s.regs.sregs.fs.base = (uint64_t)ARG1(r);
		v->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
	} else if (code == ARCH_SET_GS) {
		v->run->s.regs.sregs.gs.base = (uint64_t)ARG1(r);
		v->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
	}
	return 0;
}

/* ---- execve: keep exec'd programs under dune ------------------------- */
static int env_name_eq(const char *entry, const char *name_eq)
{
	size_t n = strlen(name_eq); /* "NAME=" */
	return !strncmp(entry, name_eq, n);
}

#define EXEC_MAX_ENV 65536
#define EXEC_STR 4096

/* Read a guest string into dst (at most cap bytes incl. NUL). */
static int read_str(struct vmm *vm, char *dst, gva_t src, size_t cap)
{
	for (size_t i = 0; i < cap; i++) {
		if (vmm_copy_from_guest(vm, &dst[i], src + i, 1))
			return -EFAULT;
		if (!dst[i])
			return 0;
	}
	return -E2BIG;
}

static long sys_execve(struct vmm_vcpu *v, struct kvm_regs *r, long nr)
{
	struct vmm *vm = v->vm;
	gva_t genv = (gva_t)(nr == SYS_execve ? ARG2(r) : ARG3(r));
	if (!vmm_cfg.exec_env)
		return vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r), ARG4(r),
				0);
	/* New envp: the guest's entries minus ours, then ours. LD_PRELOAD is
	 * merged: our shim first, the program's own after it. */
	size_t n = 0;
	uint64_t p = 0;
	while (genv && n < EXEC_MAX_ENV) {
		if (vmm_copy_from_guest(vm, &p, genv + n * 8, 8))
			return -EFAULT;
		if (!p)
			break;
		n++;
	}
	size_t cap = (n + (size_t)vmm_cfg.n_exec_env + 2) * sizeof(char *) +
		     2 * EXEC_STR;
	char **envp = vmm_zalloc(cap);
	if (!envp)
		return -ENOMEM;
	char *user_preload = (char *)(envp + n + vmm_cfg.n_exec_env + 2);
	char *merged = user_preload + EXEC_STR;
	char head[32];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		vmm_copy_from_guest(vm, &p, genv + i * 8, 8);
		memset(head, 0, sizeof(head));
		for (size_t j = 0; j < sizeof(head) - 1; j++)
			if (vmm_copy_from_guest(vm, &head[j], p + j, 1) ||
			    !head[j])
				break;
		if (env_name_eq(head, "LD_PRELOAD=")) {
			if (read_str(vm, user_preload, p, EXEC_STR))
				user_preload[0] = 0;
			continue;
		}
		int ours = 0;
		for (const char *e = vmm_cfg.exec_env; *e; e += strlen(e) + 1) {
			const char *eq = strchr(e, '=');
			if (eq && !strncmp(head, e, (size_t)(eq - e + 1)) &&
			    (size_t)(eq - e + 1) < sizeof(head))
				ours = 1;
		}
		if (!ours)
			envp[k++] = (char *)(uintptr_t)p;
	}
	for (const char *e = vmm_cfg.exec_env; *e; e += strlen(e) + 1) {
		if (env_name_eq(e, "LD_PRELOAD=") && user_preload[11]) {
			/* "LD_PRELOAD=shim" + ":" + the user's list */
			size_t a = strlen(e), b = strlen(user_preload + 11);
			if (a + 1 + b + 1 <= EXEC_STR) {
				memcpy(merged, e, a);
				merged[a] = ':';
				memcpy(merged + a + 1, user_preload + 11, b + 1);
				envp[k++] = merged;
				continue;
			}
		}
		envp[k++] = (char *)(uintptr_t)e;
	}
	envp[k] = NULL;
	long ret = vmm_sys6(nr, ARG0(r), ARG1(r),
			    nr == SYS_execve ? (long)envp : ARG2(r),
			    nr == SYS_execve ? ARG3(r) : (long)envp, ARG4(r), 0);
	vmm_free(envp, cap);
	return ret;
}

/* ---- dispatch ------------------------------------------------------------ */
static void resume_user(struct vmm_vcpu *v, uint64_t rip, uint64_t rflags)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	r->rip = rip;
	r->rflags = vmm_sanitize_rflags(rflags);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vmm_vcpu_set_app_segments(v);
}

void vmm_handle_syscall(struct vmm_vcpu *v)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	long nr = (long)r->rax, ret;
	uint64_t ret_rip = r->rcx, ret_flags = r->r11;

	atomic_fetch_add(&v->vm->st_syscalls, 1);
	switch (nr) {
	case SYS_rt_sigreturn:
		ret = vmm_sys_rt_sigreturn(v);
		if (ret == 0)
			return; /* registers replaced from the frame */
		vmm_signal_force(v, SIGSEGV, SI_KERNEL, 0, NULL);
		return;
	case SYS_rt_sigaction:
		ret = vmm_sys_rt_sigaction(v, (int)ARG0(r), (gva_t)ARG1(r),
					   (gva_t)ARG2(r), (size_t)ARG3(r));
		break;
	case SYS_sigaltstack:
		ret = vmm_sys_sigaltstack(v, (gva_t)ARG0(r), (gva_t)ARG1(r));
		break;
	case SYS_mmap:
		ret = sys_mmap(v, r);
		break;
	case SYS_munmap:
	case SYS_mprotect:
	case SYS_pkey_mprotect:
		ret = vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r), 0, 0);
		ret = sync_result(v->vm, ret, (uint64_t)ARG0(r),
				  (uint64_t)ARG1(r));
		break;
	case SYS_mremap:
		ret = sys_mremap(v, r);
		break;
	case SYS_brk:
		ret = sys_brk(v, r);
		break;
	case SYS_shmat:
	case SYS_shmdt:
		ret = sys_shm(v, r, nr);
		break;
	case SYS_clone:
		if (ARG0(r) & CLONE_VM && !(ARG0(r) & CLONE_VFORK))
			ret = sys_clone_thread(v, r);
		else
			ret = sys_fork(v, r, nr);
		break;
	case SYS_clone3:
		ret = -ENOSYS; /* libc falls back to clone(2) */
		break;
	case SYS_fork:
	case SYS_vfork:
		ret = sys_fork(v, r, nr);
		break;
	case SYS_exit:
		if (vmm_cfg.trace_fd >= 0) {
			uint64_t a[6] = {r->rdi, 0, 0, 0, 0, 0};
			vmm_trace_syscall(v, nr, a, 0);
		}
		thread_exit(v, ARG0(r));
	case SYS_exit_group:
		if (vmm_cfg.print_stats)
			vmm_print_stats();
		ret = vmm_sys1(SYS_exit_group, ARG0(r));
		break;
	case SYS_execve:
	case SYS_execveat:
		ret = sys_execve(v, r, nr);
		break;
	case SYS_arch_prctl:
		ret = sys_arch_prctl(v, r);
		break;
	default:
		ret = vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r), ARG4(r),
			       ARG5(r));
		break;
	}
	if (vmm_cfg.trace_fd >= 0) {
		uint64_t a[6] = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9};
		vmm_trace_syscall(v, nr, a, ret);
	}
	r->rax = (uint64_t)ret;
	resume_user(v, ret_rip, ret_flags);
	if (ret == -EINTR)
		vmm_signal_syscall_interrupted(v, nr);
}
