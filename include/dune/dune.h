/* dune/dune.h: libdune's public API (entering the guest, modes, statistics).
 *
 * A process calls dune_init() once, then dune_enter() on each thread that
 * should run inside the guest. The thread continues at the same instruction
 * with the same stack, heap, TLS, fds and PID, now as a KVM vCPU; every
 * syscall it makes is forwarded to the host by the vmm. All functions return
 * 0 or a negative errno; none prints except where noted.
 */
#ifndef DUNE_DUNE_H
#define DUNE_DUNE_H

#include <stdint.h>
#include <stddef.h>

#include "dune/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DUNE_VERSION "0.1.0"

/* Privilege mode of the application inside the guest. */
enum dune_mode {
	DUNE_MODE_AUTO = 0, /* ring 0 with VT-x/AMD-V, ring 3 on software KVM */
	DUNE_MODE_RING0 = 1, /* app at guest CPL0 (Dune's model) */
	DUNE_MODE_RING3 = 2, /* app at guest CPL3 under guestlib's kernel */
};

/* dune_init() flags. */
#define DUNE_INIT_QUIET 0x1 /* do not print the reason of a failure to stderr  \
			     */
#define DUNE_INIT_STATS 0x2 /* print struct dune_stats to stderr at exit */

/* Prepare the process: open /dev/kvm, check its capabilities, create the VM,
 * build the guest descriptor tables and page tables mirroring the process's
 * mappings. The mode is `mode`, unless it is DUNE_MODE_AUTO and the
 * environment variable DUNE_MODE is "ring0" or "ring3". Idempotent once it
 * succeeded (a second call returns 0 and changes nothing).
 * Errors: -ENOENT/-EACCES (/dev/kvm missing or not permitted), -ENOSYS (a
 * KVM capability or CPU feature is missing; dune_strerror_detail() names it),
 * -EINVAL (bad mode or DUNE_MODE value), -ENOMEM. On failure nothing is left
 * allocated and dune_init() may be called again. */
int dune_init(enum dune_mode mode, unsigned flags);

/* Turn the calling thread into a vCPU. Returns 0, now inside the guest, or a
 * negative errno, still outside (-EPERM before dune_init, -EBUSY if this
 * thread is already inside). */
int dune_enter(void);

/* dune_init() then dune_enter(). */
int dune_init_and_enter(enum dune_mode mode, unsigned flags);

/* Undo dune_init() when no thread has entered (threads that entered live in
 * the guest until they exit). Returns -EBUSY if a thread is inside. */
int dune_destroy(void);

/* 1 if the calling thread runs inside the guest, else 0. Costs one
 * forwarded syscall inside (one exit), one plain syscall outside. */
int dune_is_inside(void);

/* The mode chosen by dune_init() (DUNE_MODE_RING0 or RING3), or
 * DUNE_MODE_AUTO before it. */
enum dune_mode dune_get_mode(void);

/* Human-readable detail of the last dune_init() failure ("" if none). */
const char *dune_strerror_detail(void);

/* Per-process counters, summed over all vCPUs. Reading them costs no exit:
 * they are kept by the vmm in host memory. */
struct dune_stats {
	uint64_t exits;		/* KVM_RUN returns, all reasons */
	uint64_t syscalls;	/* forwarded syscalls */
	uint64_t faults;	/* guest exceptions reaching the vmm */
	uint64_t signals;	/* signal frames delivered into the guest */
	uint64_t pt_syncs;	/* page-table/memslot re-syncs */
	uint64_t memslots;	/* memslots currently in use */
	uint64_t memslot_bytes; /* bytes covered by memslots */
	uint64_t monitor_ns;	/* time spent in the vmm outside KVM_RUN */
};
void dune_get_stats(struct dune_stats *out);

/* One bare exit to the vmm and back, doing nothing: the unit of exit
 * cost for benchmarks. A `syscall` with a number Linux does not have
 * (DUNE_SYS_NOP): it reaches the vmm from either CPL on every KVM, and
 * the vmm answers it before anything else. Returns 0 inside, -ENOSYS
 * outside (the host kernel answers). */
static inline long dune_exit_nop(void)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"((long)DUNE_SYS_NOP)
			 : "rcx", "r11", "memory");
	return r;
}

/* Log every forwarded syscall (name, arguments, result) to fd, like
 * strace; -1 turns it off. Names come from libseccomp. 0 or -errno. */
int dune_set_trace_fd(int fd);

/* Environment entries ("NAME=value") added to the environment of every
 * program this process execve()s, so that it runs under dune too (used by
 * `dune run`). The array and strings are copied. NULL clears. */
int dune_set_exec_env(const char *const *entries);

/* The `dune` command used to run statically linked programs that this
 * process execve()s (they cannot take a preloaded shim). NULL clears.
 * Returns 0 or -ENAMETOOLONG. */
int dune_set_exec_loader(const char *path);

/* Make readlink() and execve() of /proc/self/exe name path instead of
 * this process's executable (for loaders such as `dune run`'s, which run a
 * program inside the dune process). NULL clears. 0 or -ENAMETOOLONG. */
int dune_set_self_exe(const char *path);

/* Host virtualization facts, for `dune info`. */
struct dune_host_info {
	int api_version;     /* KVM_GET_API_VERSION */
	int hw_virt;	     /* 1: host CPU has vmx/svm; 0: software KVM */
	int nr_memslots;     /* KVM_CAP_NR_MEMSLOTS */
	int max_vcpus;	     /* KVM_CAP_MAX_VCPUS */
	int guest_phys_bits; /* guest MAXPHYADDR */
	int gbpages;	     /* 1 GiB pages in the supported CPUID */
	char cpu[64];	     /* CPUID brand string */
	char virt[8];	     /* "VT-x", "AMD-V" or "" (no vmx/svm flag) */
	int tdp;	     /* KVM's nested paging (EPT/NPT): 1 on, 0 off,
				-1 unknown (no kvm_intel/kvm_amd module) */
};
int dune_host_info(struct dune_host_info *out);

#ifdef __cplusplus
}
#endif
#endif /* DUNE_DUNE_H */
