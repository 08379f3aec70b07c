/* vmm/syscall.c: forwarded syscalls. One exit per syscall: the vmm runs
 * the call on the thread that owns the vCPU (same TID, signal mask, fds)
 * and resumes the guest with the result. Calls that change the address
 * space, threads, signals or the process get handled here first. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>

#include "dune/trap.h"
#include "gl.h"
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
		vmm_msg(
		    "dune: out of KVM memslots: too many separate mappings\n",
		    NULL, NULL);
		return -ENOMEM;
	}
	return ret;
}

static long sys_mmap(struct vmm_vcpu *v, struct kvm_regs *r)
{
	if ((ARG3(r) & MAP_FIXED) &&
	    vmm_mem_touches_private(v->vm, (uint64_t)ARG0(r),
				    page_up((uint64_t)ARG1(r))))
		return -ENOMEM;
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
	if (vmm_mem_touches_private(v->vm, (uint64_t)ARG0(r),
				    page_up((uint64_t)ARG1(r))) ||
	    ((ARG3(r) & MREMAP_FIXED) &&
	     vmm_mem_touches_private(v->vm, (uint64_t)ARG4(r),
				     page_up((uint64_t)ARG2(r)))))
		return -EINVAL;
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

/* mprotect that, if the guest cannot follow (out of memslots), puts the
 * old protections back and fails with ENOMEM: the result always matches
 * the host's mappings. */
#define OLD_PIECES 64
struct old_prot {
	int n;
	struct {
		uint64_t start, end;
		int prot;
	} p[OLD_PIECES];
};

static int old_prot_cb(const struct vmm_vma *v, void *arg)
{
	struct old_prot *o = arg;
	if (o->n == OLD_PIECES)
		return 1;
	o->p[o->n].start = v->start;
	o->p[o->n].end = v->end;
	o->p[o->n].prot = v->prot;
	o->n++;
	return 0;
}

static long sys_mprotect(struct vmm_vcpu *v, struct kvm_regs *r, long nr)
{
	uint64_t a = (uint64_t)ARG0(r), len = page_up((uint64_t)ARG1(r));
	struct old_prot o = {0};
	int complete = !vmm_maps_iter(a, a + len, old_prot_cb, &o);
	long ret = vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r), 0, 0);
	if (ret)
		return ret;
	if (vmm_mem_sync(v->vm, a, a + len) != -ENOSPC)
		return 0;
	if (!complete)
		return sync_result(v->vm, -ENOMEM, a, len);
	for (int i = 0; i < o.n; i++) {
		uint64_t s = o.p[i].start > a ? o.p[i].start : a;
		uint64_t e = o.p[i].end < a + len ? o.p[i].end : a + len;
		vmm_sys3(SYS_mprotect, s, e - s, o.p[i].prot);
	}
	vmm_mem_sync(v->vm, a, a + len);
	vmm_msg("dune: out of KVM memslots: mprotect refused (too many "
		"separate mappings)\n",
		NULL, NULL);
	return -ENOMEM;
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
	/* The kernel gave us the parent's host mask (with its held
	 * signals): the child starts with the parent's guest mask. */
	uint64_t hm = vmm_host_mask(v->guest_mask);
	vmm_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &hm, NULL, 8);
	if (vmm_vcpu_load(v, &regs, fs, gs))
		vmm_die("cannot load a new thread's vCPU", v);
	vmm_vcpu_run(v);
}

/* The registers a clone/fork child starts with: the parent's at its
 * syscall, returning 0 after it, on child_sp (0: the parent's stack). */
static struct kvm_regs child_regs(const struct kvm_regs *r, uint64_t child_sp)
{
	struct kvm_regs c = *r;
	c.rax = 0;
	c.rip = r->rcx;
	c.rflags = vmm_sanitize_rflags(r->r11);
	if (child_sp)
		c.rsp = child_sp;
	return c;
}

/* clone with CLONE_VM: a thread, or a vfork child (posix_spawn, vfork).
 * Both share this mm, so KVM lets them run a vCPU of this VM: each gets
 * one, on a fresh monitor stack. The vfork parent sleeps until the child
 * has exec'd or exited, then takes the child's vCPU back. */
static long sys_clone_vm(struct vmm_vcpu *v, struct kvm_regs *r,
			 unsigned long flags, uint64_t child_sp, int *ptid,
			 int *ctid, unsigned long tls)
{
	int err;
	struct vmm_vcpu *c = vmm_vcpu_create(v->vm, &err);
	if (!c)
		return -EAGAIN; /* as clone(2) when out of threads */
	struct thread_start *ts = (void *)c->xsave;
	_Static_assert(sizeof(struct thread_start) <= sizeof(struct kvm_xsave),
		       "thread_start fits the xsave scratch");
	ts->regs = child_regs(r, child_sp);
	ts->fs_base =
	    (flags & CLONE_SETTLS) ? tls : v->run->s.regs.sregs.fs.base;
	ts->gs_base = v->run->s.regs.sregs.gs.base;
	c->vfork_child = !!(flags & CLONE_VFORK);
	c->guest_mask = v->guest_mask;
	if (c->vfork_child && vmm_signal_private_actions(c)) {
		vmm_sys2(SYS_munmap, c->mon_stack, c->mon_stack_size);
		vmm_vcpu_release(c, 1);
		return -ENOMEM;
	}
	long ret = vmm_clone_asm(flags, c->mon_stack + c->mon_stack_size, ptid,
				 ctid, tls, thread_start, c);
	if (ret < 0 || c->vfork_child) {
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
	uint64_t mask = pv->guest_mask;
	stack_t alt = pv->altstack;
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
	for (int i = 0;
	     i < atomic_load(&old->next_vcpu) && (uint64_t)i < VMM_MAX_VCPUS;
	     i++) {
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
			    (uint64_t)(uintptr_t)v->mon_stack +
				v->mon_stack_size);
	vmm_sys2(SYS_munmap, v->mon_stack, v->mon_stack_size);
	v->mon_stack = stack;
	v->mon_stack_size = stack_size;
	vmm_mem_add_private(vmm_g, (uint64_t)(uintptr_t)stack,
			    (uint64_t)(uintptr_t)stack + stack_size);
	v->guest_mask = mask;
	v->altstack = alt;
	uint64_t hm = vmm_host_mask(mask);
	vmm_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &hm, NULL, 8);
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
		flags = (unsigned long)ARG0(r);
		ptid = (int *)ARG2(r);
		ctid = (int *)ARG3(r);
		tls = (unsigned long)ARG4(r);
	}
	struct kvm_regs child =
	    child_regs(r, nr == SYS_clone ? (uint64_t)ARG1(r) : 0);
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

/* 1 if every other thread of the process is one of KVM's own workers
 * (kvm-nx-lpage-recovery and the like joins the thread group and lives
 * as long as the VM): the exiting thread is the program's last. */
static int last_program_thread(void)
{
	char buf[4096], path[64], comm[32];
	int self = vmm_gettid(), others = 0;
	int fd = (int)vmm_sys4(SYS_openat, AT_FDCWD, "/proc/self/task",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	long n;
	while (!others &&
	       (n = vmm_sys3(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n && !others;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			off += d->reclen;
			if (d->name[0] < '1' || d->name[0] > '9')
				continue;
			long tid = 0;
			for (const char *c = d->name; *c; c++)
				tid = tid * 10 + (*c - '0');
			if (tid == self)
				continue;
			memcpy(path, "/proc/self/task/", 16);
			size_t k = 16, l = strlen(d->name);
			memcpy(path + k, d->name, l);
			memcpy(path + k + l, "/comm", 6);
			int cf = (int)vmm_sys4(SYS_openat, AT_FDCWD, path,
					       O_RDONLY | O_CLOEXEC, 0);
			long m = cf >= 0 ? vmm_sys3(SYS_read, cf, comm,
						    sizeof(comm) - 1)
					 : -1;
			if (cf >= 0)
				vmm_close(cf);
			if (m <= 0 || strncmp(comm, "kvm-", 4))
				others = 1; /* a program thread */
		}
	}
	vmm_close(fd);
	return !others;
}

static _Noreturn void thread_exit(struct vmm_vcpu *v, long status)
{
	if (v->vfork_child) /* the parent takes the vCPU back */
		for (;;)
			vmm_sys1(SYS_exit, status);
	/* Natively the last thread's exit ends the process; KVM's worker
	 * thread would keep it alive as a zombie. (Other vCPUs in use mean
	 * other program threads: no need to look.) */
	if (atomic_load(&v->vm->nvcpus) == 1 && last_program_thread()) {
		if (vmm_cfg.print_stats)
			vmm_print_stats();
		for (;;)
			vmm_sys1(SYS_exit_group, status);
	}
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

/* ---- interposition --------------------------------------------------------
 */
/* dune_register_syscall_handler(): instead of running the syscall, upcall
 * the handler with the caller's state as a struct dune_tf on its stack
 * (below the red zone), as guestlib's trap upcalls do. */
static int upcall_syscall(struct vmm_vcpu *v, struct kvm_regs *r)
{
	struct dune_tf tf;
	/* On the vCPU's upcall stack, as guestlib's trap upcalls (below the
	 * red zone if the caller already runs on it). */
	uint64_t top = *(uint64_t *)(v->block + VCPU_UPSTACK_PTR_OFF);
	uint64_t base = r->rsp < top && r->rsp >= top - UPCALL_STACK_SIZE
			    ? r->rsp - 128
			    : top;
	uint64_t sp = (base - sizeof(tf)) & ~15ull;
	vmm_tf_from_regs(&tf, r);
	tf.vec = DUNE_VEC_SYSCALL, tf.err = 0;
	tf.rip = r->rcx, tf.rflags = r->r11, tf.rsp = r->rsp;
	tf.cs = v->run->s.regs.sregs.cs.selector;
	tf.ss = v->run->s.regs.sregs.ss.selector;
	if (vmm_copy_to_guest(v->vm, sp, &tf, sizeof(tf)))
		return -EFAULT;
	r->rsp = sp;
	r->rdi = sp;
	r->rsi = 0;
	r->rip = vmm_cfg.sys_upcall;
	r->rflags = vmm_sanitize_rflags(r->r11);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	vmm_vcpu_set_app_segments(v);
	return 0;
}

/* Calls that switch stacks, processes or images cannot be run from a
 * handler's frame (dune_passthrough_syscall would return into it in the
 * child, or never): they are never interposed. */
static int interposable(long nr)
{
	switch (nr) {
	case SYS_rt_sigreturn:
	case SYS_exit:
	case SYS_exit_group:
	case SYS_clone:
	case SYS_clone3:
	case SYS_fork:
	case SYS_vfork:
	case SYS_execve:
	case SYS_execveat:
		return 0;
	default:
		return 1;
	}
}

void vmm_set_syscall_upcall(int on)
{
	vmm_cfg.sys_upcall =
	    !on ? 0
		: (uint64_t)(uintptr_t)(vmm_g->mode == DUNE_MODE_RING3
					    ? gl_upcall_entry
					    : gl_upcall_entry0);
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

	if (v->in_user) { /* code run by dune_jump_to_user(): back to caller */
		atomic_fetch_add(&v->vm->st_syscalls, 1);
		vmm_user_exit(v, DUNE_RET_SYSCALL, NULL, 0);
		return;
	}
	if (nr == DUNE_SYS_NOP) { /* dune_exit_nop(): the bare exit */
		r->rax = 0;
		resume_user(v, ret_rip, ret_flags);
		return;
	}
	atomic_fetch_add(&v->vm->st_syscalls, 1);
	if (vmm_cfg.sys_upcall && interposable(nr) &&
	    r->rcx != (uint64_t)(uintptr_t)gl_passthrough_ret &&
	    !upcall_syscall(v, r))
		return;
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
	case SYS_close:
		ret = vmm_sys_close(v->vm, (int)ARG0(r));
		break;
	case SYS_dup2:
	case SYS_dup3:
		ret = vmm_sys_dup3(v->vm, nr, (int)ARG0(r), (int)ARG1(r),
				   (int)ARG2(r));
		break;
	case SYS_close_range:
		ret = vmm_sys_close_range(v->vm, (unsigned)ARG0(r),
					  (unsigned)ARG1(r), (unsigned)ARG2(r));
		break;
	case SYS_rt_sigprocmask:
		ret = vmm_sys_rt_sigprocmask(v, (int)ARG0(r), (gva_t)ARG1(r),
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
	case SYS_madvise:
		/* dune's own memory (arena, monitor stacks) is not the
		 * program's to change: answer as for an unmapped range. */
		if (vmm_mem_touches_private(v->vm, (uint64_t)ARG0(r),
					    page_up((uint64_t)ARG1(r)))) {
			ret = nr == SYS_munmap ? -EINVAL : -ENOMEM;
			break;
		}
		if (nr == SYS_mprotect || nr == SYS_pkey_mprotect) {
			ret = sys_mprotect(v, r, nr);
			break;
		}
		ret = vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r), 0, 0);
		if (nr == SYS_madvise)
			break; /* no mapping changes (MADV_DONTNEED refills) */
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
		if (ARG0(r) & CLONE_VM)
			ret = sys_clone_vm(v, r, (unsigned long)ARG0(r),
					   (uint64_t)ARG1(r), (int *)ARG2(r),
					   (int *)ARG3(r),
					   (unsigned long)ARG4(r));
		else
			ret = sys_fork(v, r, nr);
		break;
	case SYS_clone3:
		ret = -ENOSYS; /* libc falls back to clone(2) */
		break;
	case SYS_pkey_alloc:
		/* The guest has no protection keys (hide_pkeys() in kvm.c):
		 * answer as a kernel on a CPU without them. */
		ret = -ENOSPC;
		break;
	case SYS_seccomp:
		/* A filter would bind the monitor too (it runs the guest's
		 * syscalls and its own on this thread): answer as a kernel
		 * without seccomp. */
		ret = -EINVAL;
		break;
	case SYS_prctl:
		ret = ARG0(r) == PR_SET_SECCOMP
			  ? -EINVAL
			  : vmm_sys6(nr, ARG0(r), ARG1(r), ARG2(r), ARG3(r),
				     ARG4(r), 0);
		break;
	case DUNE_SYS_QUERY:
		ret = DUNE_ABI_VERSION;
		break;
	case DUNE_SYS_RAM:
		ret = vmm_sys_ram(v, ARG0(r), ARG1(r), ARG2(r));
		break;
	case DUNE_SYS_PF_PASS:
		ret = vmm_pf_pass(v, (gva_t)ARG0(r), ARG1(r), ARG2(r));
		if (!ret)
			return; /* resumes at the fault's state */
		break;
	case DUNE_SYS_JUMP_USER:
		ret = vmm_user_enter(v, (gva_t)ARG0(r), (uint64_t)ARG1(r),
				     (gva_t)ARG2(r));
		if (!ret)
			return; /* now running the frame */
		break;
	case SYS_fork:
		ret = sys_fork(v, r, nr);
		break;
	case SYS_vfork:
		ret = sys_clone_vm(v, r, CLONE_VM | CLONE_VFORK | SIGCHLD, 0,
				   NULL, NULL, 0);
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
	case SYS_readlink:
	case SYS_readlinkat:
		ret =
		    vmm_sys_readlink(v, nr,
				     (const uint64_t[]){r->rdi, r->rsi, r->rdx,
							r->r10, r->r8, r->r9});
		break;
	case SYS_execve:
	case SYS_execveat:
		ret = vmm_sys_execve(v, nr,
				     (const uint64_t[]){r->rdi, r->rsi, r->rdx,
							r->r10, r->r8, r->r9});
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
