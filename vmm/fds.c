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

/* Every place that holds one of our fds. */
static int *slot_of(struct vmm *vm, int fd)
{
	if (vm->kvm_fd == fd)
		return &vm->kvm_fd;
	if (vm->vm_fd == fd)
		return &vm->vm_fd;
	if (vmm_cfg.trace_fd == fd)
		return &vmm_cfg.trace_fd;
	if (vmm_cfg.stats_fd == fd)
		return &vmm_cfg.stats_fd;
	int *m = vmm_maps_fd_slot();
	if (*m == fd)
		return m;
	int n = atomic_load(&vm->next_vcpu);
	for (int i = 0; i < n && (uint64_t)i < VMM_MAX_VCPUS; i++)
		if (vm->vcpus[i] && vm->vcpus[i]->fd == fd)
			return &vm->vcpus[i]->fd;
	return NULL;
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
	/* Our fds in [first, last], sorted: the call applies to the gaps. */
	int ours[64], n = 0;
	int cand[5] = {vm->kvm_fd, vm->vm_fd, *vmm_maps_fd_slot(),
		       vmm_cfg.trace_fd, vmm_cfg.stats_fd};
	int nv = atomic_load(&vm->next_vcpu);
	if ((uint64_t)nv > VMM_MAX_VCPUS)
		nv = (int)VMM_MAX_VCPUS;
	for (int i = -5; i < nv && n < 64; i++) {
		int fd = i < 0 ? cand[i + 5]
			       : (vm->vcpus[i] ? vm->vcpus[i]->fd : -1);
		if (fd < 0 || (unsigned)fd < first || (unsigned)fd > last)
			continue;
		int k = n++;
		while (k > 0 && ours[k - 1] > fd) {
			ours[k] = ours[k - 1];
			k--;
		}
		ours[k] = fd;
	}
	unsigned a = first;
	for (int i = 0; i <= n; i++) {
		/* The gap before ours[i], or the rest up to last. */
		int tail = i == n;
		if (tail || (unsigned)ours[i] > a) {
			unsigned e = tail ? last : (unsigned)ours[i] - 1;
			long r = vmm_sys3(SYS_close_range, a, e, flags);
			if (r)
				return r;
		}
		if (tail || (unsigned)ours[i] == last)
			break;
		a = (unsigned)ours[i] + 1;
	}
	return 0;
}
