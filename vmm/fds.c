/* vmm/fds.c: dune's own file descriptors (/dev/kvm, the VM, vCPUs,
 * /proc/self/maps) live at the top of the fd range, out of the way of
 * programs that expect open() to return 3 or that close or dup2 over low
 * numbers; close/dup2/dup3/close_range aimed at them are steered around. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "maps.h"
#include "sys.h"
#include "vmm.h"

/* The lowest number dune uses: below the soft limit, which a program
 * rarely fills to the top. */
static int high_base(void)
{
	struct rlimit rl;
	if (vmm_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) ||
	    rl.rlim_cur < 256)
		return 3;
	uint64_t b = rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
	return (int)(b - 64);
}

int vmm_fd_high(int fd)
{
	if (fd < 0)
		return fd;
	int hi = (int)vmm_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, high_base());
	if (hi < 0)
		return fd; /* keep the low one rather than fail */
	vmm_close(fd);
	return hi;
}

/* Every place that holds one of our fds: the i-th of them, NULL for an
 * empty vCPU id, or past the end (i >= own_fd_count()). */
#define OWN_FIXED 5

static int own_fd_count(struct vmm *vm)
{
	int n = atomic_load(&vm->next_vcpu);
	return OWN_FIXED +
	       ((uint64_t)n > VMM_MAX_VCPUS ? (int)VMM_MAX_VCPUS : n);
}

static int *own_fd(struct vmm *vm, int i)
{
	switch (i) {
	case 0:
		return &vm->kvm_fd;
	case 1:
		return &vm->vm_fd;
	case 2:
		return &vmm_cfg.trace_fd;
	case 3:
		return &vmm_cfg.stats_fd;
	case 4:
		return vmm_maps_fd_slot();
	default:
		return vm->vcpus[i - OWN_FIXED] ? &vm->vcpus[i - OWN_FIXED]->fd
						: NULL;
	}
}

static int *slot_of(struct vmm *vm, int fd)
{
	for (int i = 0, n = own_fd_count(vm); i < n; i++) {
		int *p = own_fd(vm, i);
		if (p && *p == fd)
			return p;
	}
	return NULL;
}

/* The lowest of our fds >= from, or -1. */
static long next_own_fd(struct vmm *vm, unsigned from)
{
	long best = -1;
	for (int i = 0, n = own_fd_count(vm); i < n; i++) {
		int *p = own_fd(vm, i);
		if (p && *p >= 0 && (unsigned)*p >= from &&
		    (best < 0 || *p < best))
			best = *p;
	}
	return best;
}

int vmm_fd_is_ours(struct vmm *vm, int fd)
{
	return fd >= 0 && slot_of(vm, fd) != NULL;
}

/* Move our fd away from a number the program wants. */
static int relocate(struct vmm *vm, int fd)
{
	int *slot = slot_of(vm, fd);
	if (!slot)
		return 0;
	int n = (int)vmm_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, high_base());
	if (n < 0)
		n = (int)vmm_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return n;
	*slot = n;
	vmm_close(fd);
	return 0;
}

long vmm_sys_close(struct vmm *vm, int fd)
{
	if (vmm_fd_is_ours(vm, fd))
		return -EBADF; /* not the program's */
	return vmm_sys1(SYS_close, fd);
}

long vmm_sys_dup3(struct vmm *vm, long nr, int oldfd, int newfd, int flags)
{
	if (vmm_fd_is_ours(vm, oldfd))
		return -EBADF;
	if (oldfd != newfd && vmm_fd_is_ours(vm, newfd)) {
		int r = relocate(vm, newfd);
		if (r)
			return r;
	}
	return nr == SYS_dup2 ? vmm_sys2(SYS_dup2, oldfd, newfd)
			      : vmm_sys3(SYS_dup3, oldfd, newfd, flags);
}

long vmm_sys_close_range(struct vmm *vm, unsigned first, unsigned last,
			 unsigned flags)
{
	/* The call applies to the gaps between our fds. */
	unsigned a = first;
	for (;;) {
		long own = next_own_fd(vm, a);
		int tail = own < 0 || (unsigned)own > last;
		if (tail || (unsigned)own > a) {
			unsigned e = tail ? last : (unsigned)own - 1;
			long r = vmm_sys3(SYS_close_range, a, e, flags);
			if (r)
				return r;
		}
		if (tail || (unsigned)own == last)
			return 0;
		a = (unsigned)own + 1;
	}
}
