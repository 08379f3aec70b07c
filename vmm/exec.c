/* vmm/exec.c: execve(2) from the guest. The new program replaces this
 * process and with it the VM; to keep it under dune, the vmm adds the
 * environment `dune run` asked for (the preload shim for dynamically
 * linked programs) and sends statically linked ones through the dune
 * command's ELF loader. Guest memory is read with checked copies; nothing
 * here allocates with malloc (see sys.h). */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "sys.h"
#include "vmm.h"

#define EXEC_MAX_PTRS 65536
#define EXEC_STR 4096

/* Count a guest NULL-terminated pointer array. */
static long count_ptrs(struct vmm *vm, gva_t arr)
{
	uint64_t p;
	long n = 0;
	while (arr && n < EXEC_MAX_PTRS) {
		if (vmm_copy_from_guest(vm, &p, arr + (uint64_t)n * 8, 8))
			return -EFAULT;
		if (!p)
			return n;
		n++;
	}
	return arr ? -E2BIG : 0;
}

/* Copy at most cap-1 bytes of a guest string (always NUL-terminated). */
static void read_head(struct vmm *vm, char *dst, gva_t src, size_t cap)
{
	size_t i;
	for (i = 0; i + 1 < cap; i++)
		if (vmm_copy_from_guest(vm, &dst[i], src + i, 1) || !dst[i])
			break;
	dst[i] = 0;
}

/* 1 if path names an x86-64 ELF without PT_INTERP (statically linked). */
static int is_static_elf(int dirfd, const char *path, int at_flags)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	int fd = (int)vmm_sys4(
	    SYS_openat, dirfd, path,
	    O_RDONLY | O_CLOEXEC |
		((at_flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0),
	    0);
	int st = 0;
	if (fd < 0)
		return 0;
	if (vmm_sys4(SYS_pread64, fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum &&
	    eh.e_phnum <= 64) {
		size_t len = eh.e_phnum * sizeof(Elf64_Phdr);
		if (vmm_sys4(SYS_pread64, fd, ph, len, eh.e_phoff) ==
		    (long)len) {
			st = 1;
			for (int i = 0; i < eh.e_phnum; i++)
				if (ph[i].p_type == PT_INTERP)
					st = 0;
		}
	}
	vmm_close(fd);
	return st;
}

static int is_self_exe(const char *p)
{
	return !strcmp(p, "/proc/self/exe") ||
	       !strcmp(p, "/proc/thread-self/exe");
}

long vmm_sys_readlink(struct vmm_vcpu *v, long nr, const uint64_t a[6])
{
	int at = nr == SYS_readlinkat;
	char path[32];
	gva_t gpath = a[at], buf = a[at + 1];
	size_t len = a[at + 2];
	if (vmm_cfg.self_exe[0]) {
		read_head(v->vm, path, gpath, sizeof(path));
		if (is_self_exe(path)) {
			size_t n = strlen(vmm_cfg.self_exe);
			n = n < len ? n : len; /* readlink does not terminate */
			return vmm_copy_to_guest(v->vm, buf, vmm_cfg.self_exe,
						 n)
				   ? -EFAULT
				   : (long)n;
		}
	}
	return vmm_sys6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], 0,
			0);
}

long vmm_sys_execve(struct vmm_vcpu *v, long nr, const uint64_t a[6])
{
	struct vmm *vm = v->vm;
	int at = nr == SYS_execveat;
	gva_t gpath = a[at], gargv = a[at + 1], genv = a[at + 2];
	if (!vmm_cfg.exec_env)
		return vmm_sys6(nr, (long)a[0], (long)a[1], (long)a[2],
				(long)a[3], (long)a[4], 0);
	long nenv = count_ptrs(vm, genv), nargv = count_ptrs(vm, gargv);
	if (nenv < 0 || nargv < 0)
		return nenv < 0 ? nenv : nargv;

	size_t cap = ((size_t)nenv + (size_t)vmm_cfg.n_exec_env + 2 +
		      (size_t)nargv + 8) *
			 sizeof(char *) +
		     3 * EXEC_STR;
	char **envp = vmm_zalloc(cap);
	if (!envp)
		return -ENOMEM;
	char **argv = envp + nenv + vmm_cfg.n_exec_env + 2;
	char *user_preload = (char *)(argv + nargv + 8);
	char *merged = user_preload + EXEC_STR;
	char *path = merged + EXEC_STR;
	char head[32];
	size_t k = 0;
	uint64_t p;

	/* envp: the guest's entries minus the ones we set, then ours.
	 * LD_PRELOAD is merged: our shim first, the program's own after. */
	for (long i = 0; i < nenv; i++) {
		vmm_copy_from_guest(vm, &p, genv + (uint64_t)i * 8, 8);
		read_head(vm, head, p, sizeof(head));
		if (!strncmp(head, "LD_PRELOAD=", 11)) {
			read_head(vm, user_preload, p, EXEC_STR);
			continue;
		}
		int ours = 0;
		for (const char *e = vmm_cfg.exec_env; *e; e += strlen(e) + 1) {
			size_t n = (size_t)(strchr(e, '=') - e) + 1;
			if (n < sizeof(head) && !strncmp(head, e, n))
				ours = 1;
		}
		if (!ours)
			envp[k++] = (char *)(uintptr_t)p;
	}
	for (const char *e = vmm_cfg.exec_env; *e; e += strlen(e) + 1) {
		size_t la = strlen(e), lb = strlen(user_preload);
		if (!strncmp(e, "LD_PRELOAD=", 11) && lb > 11 &&
		    la + 1 + (lb - 11) + 1 <= EXEC_STR) {
			memcpy(merged, e, la);
			merged[la] = ':';
			memcpy(merged + la + 1, user_preload + 11, lb - 11 + 1);
			envp[k++] = merged;
		} else {
			envp[k++] = (char *)(uintptr_t)e;
		}
	}
	envp[k] = NULL;

	long ret;
	read_head(vm, path, gpath, EXEC_STR);
	int self = vmm_cfg.self_exe[0] && is_self_exe(path);
	if (self)
		strcpy(path, vmm_cfg.self_exe); /* the loaded program */
	if (vmm_cfg.loader[0] &&
	    is_static_elf(at ? (int)a[0] : AT_FDCWD, path,
			  at ? (int)a[4] : 0) &&
	    (!at || path[0] == '/' || (int)a[0] == AT_FDCWD)) {
		/* No dynamic loader to preload into: exec the dune command,
		 * whose loader runs the program (keeping argv[0]). */
		char argv0[EXEC_STR / 2];
		uint64_t g0 = 0;
		if (nargv)
			vmm_copy_from_guest(vm, &g0, gargv, 8);
		read_head(vm, argv0, g0, sizeof(argv0));
		size_t j = 0;
		argv[j++] = vmm_cfg.loader;
		static char run[] = "run", opt[] = "--argv0", dashes[] = "--";
		argv[j++] = run;
		argv[j++] = opt;
		argv[j++] = argv0;
		argv[j++] = dashes;
		argv[j++] = path;
		for (long i = 1; i < nargv; i++) {
			vmm_copy_from_guest(vm, &p, gargv + (uint64_t)i * 8, 8);
			argv[j++] = (char *)(uintptr_t)p;
		}
		argv[j] = NULL;
		ret = vmm_sys3(SYS_execve, vmm_cfg.loader, argv, envp);
	} else if (self) {
		ret = vmm_sys3(SYS_execve, path, a[at + 1], envp);
	} else {
		ret = vmm_sys6(nr, (long)a[0], (long)a[1],
			       at ? (long)a[2] : (long)envp,
			       at ? (long)envp : (long)a[3], (long)a[4], 0);
	}
	vmm_free(envp, cap);
	return ret;
}
