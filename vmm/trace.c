/* vmm/trace.c: the strace-like log of forwarded syscalls (dune run
 * --trace) and the statistics printed at exit (--stats). Names come from
 * libseccomp's tables, copied once at set-up: the exit path may not call
 * malloc (see sys.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "vmm.h"

#define MAX_NR 512
static char names[MAX_NR][24];
static int names_ready;

static void load_names(void)
{
	if (names_ready)
		return;
	for (int nr = 0; nr < MAX_NR; nr++) {
		char *n =
		    seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
		if (n) {
			strncpy(names[nr], n, sizeof(names[nr]) - 1);
			free(n);
		}
	}
	names_ready = 1;
}

void vmm_set_trace_fd(int fd)
{
	if (fd >= 0)
		load_names();
	vmm_cfg.trace_fd = fd;
}

struct buf {
	char s[512];
	size_t n;
};

static void put(struct buf *b, const char *s)
{
	while (*s && b->n < sizeof(b->s) - 1)
		b->s[b->n++] = *s++;
}

void vmm_trace_syscall(struct vmm_vcpu *v, long nr, const uint64_t args[6],
		       long ret)
{
	struct buf b = {.n = 0};
	char t[24];
	put(&b, "[");
	put(&b, vmm_fmt_dec(t, v->tid));
	put(&b, "] ");
	if (nr >= 0 && nr < MAX_NR && names[nr][0]) {
		put(&b, names[nr]);
	} else {
		put(&b, "syscall_");
		put(&b, vmm_fmt_dec(t, nr));
	}
	put(&b, "(");
	for (int i = 0; i < 6; i++) {
		if (i)
			put(&b, ", ");
		put(&b, vmm_fmt_hex(t, args[i]));
	}
	put(&b, ") = ");
	if (ret < 0 && ret > -4096) {
		const char *e = strerrorname_np((int)-ret);
		put(&b, "-1 ");
		put(&b, e ? e : vmm_fmt_dec(t, ret));
	} else {
		put(&b, ret > 0xffff ? vmm_fmt_hex(t, (uint64_t)ret)
				     : vmm_fmt_dec(t, ret));
	}
	put(&b, "\n");
	vmm_write(vmm_cfg.trace_fd, b.s, b.n);
}

void vmm_trace_signal(struct vmm_vcpu *v, int sig, int code, uint64_t addr,
		      uint64_t rip)
{
	struct buf b = {.n = 0};
	char t[24];
	const char *name = sigabbrev_np(sig);
	put(&b, "[");
	put(&b, vmm_fmt_dec(t, v->tid));
	put(&b, "] --- SIG");
	put(&b, name ? name : vmm_fmt_dec(t, sig));
	put(&b, " {si_code=");
	put(&b, vmm_fmt_dec(t, code));
	put(&b, ", si_addr=");
	put(&b, vmm_fmt_hex(t, addr));
	put(&b, "} at rip ");
	put(&b, vmm_fmt_hex(t, rip));
	put(&b, " ---\n");
	vmm_write(vmm_cfg.trace_fd, b.s, b.n);
}

void vmm_get_stats(struct dune_stats *o)
{
	struct vmm *vm = vmm_g;
	memset(o, 0, sizeof(*o));
	if (!vm)
		return;
	o->exits = atomic_load(&vm->st_exits);
	o->syscalls = atomic_load(&vm->st_syscalls);
	o->faults = atomic_load(&vm->st_faults);
	o->signals = atomic_load(&vm->st_signals);
	o->pt_syncs = atomic_load(&vm->st_syncs);
	o->monitor_ns = atomic_load(&vm->st_monitor_ns);
	vmm_mem_lock(vm);
	o->memslots = (uint64_t)vm->nslots;
	for (int i = 0; i < vm->nslots; i++)
		o->memslot_bytes += vm->slots[i].end - vm->slots[i].start;
	vmm_mem_unlock(vm);
}

void vmm_print_stats(void)
{
	struct dune_stats st;
	struct buf b = {.n = 0};
	char t[24];
	vmm_get_stats(&st);
	put(&b, "dune: stats: exits=");
	put(&b, vmm_fmt_dec(t, (long)st.exits));
	put(&b, " syscalls=");
	put(&b, vmm_fmt_dec(t, (long)st.syscalls));
	put(&b, " faults=");
	put(&b, vmm_fmt_dec(t, (long)st.faults));
	put(&b, " signals=");
	put(&b, vmm_fmt_dec(t, (long)st.signals));
	put(&b, " pt_syncs=");
	put(&b, vmm_fmt_dec(t, (long)st.pt_syncs));
	put(&b, " memslots=");
	put(&b, vmm_fmt_dec(t, (long)st.memslots));
	put(&b, " monitor_us=");
	put(&b, vmm_fmt_dec(t, (long)(st.monitor_ns / 1000)));
	put(&b, "\n");
	vmm_write(vmm_cfg.trace_fd >= 0	  ? vmm_cfg.trace_fd
		  : vmm_cfg.stats_fd >= 0 ? vmm_cfg.stats_fd
					  : 2,
		  b.s, b.n);
}

int vmm_set_exec_env(const char *const *entries)
{
	size_t len = 1;
	int n = 0;
	char *buf = NULL;
	if (entries) {
		for (n = 0; entries[n]; n++) {
			if (!strchr(entries[n], '='))
				return -EINVAL;
			len += strlen(entries[n]) + 1;
		}
		buf = vmm_zalloc(len);
		if (!buf)
			return -ENOMEM;
		char *p = buf;
		for (int i = 0; i < n; i++) {
			size_t l = strlen(entries[i]) + 1;
			memcpy(p, entries[i], l);
			p += l;
		}
	}
	vmm_free(vmm_cfg.exec_env, vmm_cfg.exec_env_len);
	vmm_cfg.exec_env = buf;
	vmm_cfg.exec_env_len = buf ? len : 0;
	vmm_cfg.n_exec_env = n;
	return 0;
}

/* Store path (NULL: clear) in a fixed buffer of vmm_cfg. */
static int set_path(char *dst, size_t cap, const char *path)
{
	if (path && strlen(path) >= cap)
		return -ENAMETOOLONG;
	dst[0] = 0;
	if (path)
		strcpy(dst, path);
	return 0;
}

int vmm_set_exec_loader(const char *path)
{
	return set_path(vmm_cfg.loader, sizeof(vmm_cfg.loader), path);
}

int vmm_set_self_exe(const char *path)
{
	return set_path(vmm_cfg.self_exe, sizeof(vmm_cfg.self_exe), path);
}
