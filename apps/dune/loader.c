/* apps/dune/loader.c: run a statically linked program under dune.
 *
 * A static program has no dynamic loader to preload a shim into, so `dune
 * run` enters the guest itself and then does what execve(2) would: maps
 * the PT_LOAD segments, builds the initial stack (argv, envp, auxv) and
 * jumps to the entry point. From then on the program owns the process;
 * dune's monitor keeps running underneath on its own stack. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "dune/dune.h"
#include "runenv.h"

#define PG 4096ul
#define PG_DOWN(x) ((x) & ~(PG - 1))
#define PG_UP(x) (((x) + PG - 1) & ~(PG - 1))

struct image {
	GElf_Ehdr eh;
	GElf_Phdr ph[64];
	size_t nph;
	uint64_t lo, hi; /* span of PT_LOAD vaddrs */
};

static int read_image(int fd, struct image *im, const char *shown)
{
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	int r = -1;
	if (!e || !gelf_getehdr(e, &im->eh) || elf_getphdrnum(e, &im->nph) ||
	    im->nph > sizeof(im->ph) / sizeof(im->ph[0])) {
		fprintf(stderr, "dune: %s: malformed ELF program headers\n",
			shown);
		goto out;
	}
	im->lo = UINT64_MAX;
	im->hi = 0;
	for (size_t i = 0; i < im->nph; i++) {
		GElf_Phdr *p = &im->ph[i];
		if (!gelf_getphdr(e, (int)i, p))
			goto out;
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz ||
		    (p->p_vaddr % PG) != (p->p_offset % PG)) {
			fprintf(stderr, "dune: %s: bad PT_LOAD segment\n",
				shown);
			goto out;
		}
		im->lo = p->p_vaddr < im->lo ? p->p_vaddr : im->lo;
		if (p->p_vaddr + p->p_memsz > im->hi)
			im->hi = p->p_vaddr + p->p_memsz;
	}
	r = im->hi > im->lo ? 0 : -1;
	if (r)
		fprintf(stderr, "dune: %s: no loadable segment\n", shown);
out:
	if (e)
		elf_end(e);
	return r;
}

static int prot_of(uint32_t f)
{
	return (f & PF_R ? PROT_READ : 0) | (f & PF_W ? PROT_WRITE : 0) |
	       (f & PF_X ? PROT_EXEC : 0);
}

/* Map the segments; returns the load bias or -1. */
static long map_image(int fd, const struct image *im, const char *shown)
{
	uint64_t bias = 0;
	if (im->eh.e_type == ET_DYN) { /* static-pie: anywhere */
		void *base =
		    mmap(NULL, PG_UP(im->hi) - PG_DOWN(im->lo), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED)
			goto fail;
		bias = (uint64_t)(uintptr_t)base - PG_DOWN(im->lo);
	}
	for (size_t i = 0; i < im->nph; i++) {
		const GElf_Phdr *p = &im->ph[i];
		if (p->p_type != PT_LOAD)
			continue;
		uint64_t start = PG_DOWN(bias + p->p_vaddr);
		uint64_t fend = bias + p->p_vaddr + p->p_filesz;
		uint64_t mend = PG_UP(bias + p->p_vaddr + p->p_memsz);
		int prot = prot_of(p->p_flags);
		int flags = MAP_PRIVATE | MAP_FIXED;
		if (im->eh.e_type == ET_EXEC)
			flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE;
		if (p->p_filesz) {
			void *m = mmap((void *)start, PG_UP(fend) - start,
				       prot | PROT_WRITE, flags, fd,
				       (off_t)PG_DOWN(p->p_offset));
			if (m == MAP_FAILED)
				goto fail;
			/* The tail of the last file page belongs to .bss. */
			if (p->p_memsz > p->p_filesz && (fend % PG))
				memset((void *)fend, 0, PG_UP(fend) - fend);
			if (mprotect(m, PG_UP(fend) - start, prot))
				goto fail;
		}
		if (mend > PG_UP(fend)) {
			uint64_t a = p->p_filesz ? PG_UP(fend) : start;
			if (mmap((void *)a, mend - a, prot,
				 MAP_PRIVATE | MAP_ANONYMOUS |
				     (flags & ~MAP_PRIVATE),
				 -1, 0) == MAP_FAILED)
				goto fail;
		}
	}
	return (long)bias;
fail:
	fprintf(stderr, "dune: %s: cannot map the program: %s\n", shown,
		strerror(errno));
	return -1;
}

/* Build the initial process stack (System V x86-64 ABI, 3.4.1). */
static uint64_t build_stack(char **argv, char **envp, const struct image *im,
			    uint64_t bias, const char *execfn)
{
	struct rlimit rl;
	size_t size = 8ul << 20;
	if (!getrlimit(RLIMIT_STACK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > size)
		size = rl.rlim_cur < (64ul << 20) ? rl.rlim_cur : (64ul << 20);
	char *stk = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk == MAP_FAILED)
		return 0;
	char *top = stk + size;
	int argc = 0, envc = 0;
	while (argv[argc])
		argc++;
	while (envp[envc])
		envc++;
	char **uargv = calloc((size_t)argc + 1, sizeof(char *));
	char **uenvp = calloc((size_t)envc + 1, sizeof(char *));
	if (!uargv || !uenvp)
		return 0;
#define PUSH_STR(s) (top -= strlen(s) + 1, memcpy(top, s, strlen(s) + 1), top)
	const char *fn = PUSH_STR(execfn);
	for (int i = envc - 1; i >= 0; i--)
		uenvp[i] = PUSH_STR(envp[i]);
	for (int i = argc - 1; i >= 0; i--)
		uargv[i] = PUSH_STR(argv[i]);
	const char *plat = PUSH_STR("x86_64");
	top -= 16;
	uint8_t *rnd = (uint8_t *)top;
	if (getrandom(rnd, 16, 0) != 16)
		memset(rnd, 0x5a, 16);

	uint64_t phdr = 0;
	for (size_t i = 0; i < im->nph; i++)
		if (im->ph[i].p_type == PT_PHDR)
			phdr = im->ph[i].p_vaddr + bias;
	for (size_t i = 0; i < im->nph && !phdr; i++)
		if (im->ph[i].p_type == PT_LOAD && im->ph[i].p_offset == 0)
			phdr = im->ph[i].p_vaddr + im->eh.e_phoff + bias;

	uint64_t aux[][2] = {
	    {AT_SYSINFO_EHDR, getauxval(AT_SYSINFO_EHDR)},
	    {AT_MINSIGSTKSZ, getauxval(AT_MINSIGSTKSZ)},
	    {AT_HWCAP, getauxval(AT_HWCAP)},
	    {AT_PAGESZ, PG},
	    {AT_CLKTCK, getauxval(AT_CLKTCK)},
	    {AT_PHDR, phdr},
	    {AT_PHENT, sizeof(Elf64_Phdr)},
	    {AT_PHNUM, im->nph},
	    {AT_BASE, 0},
	    {AT_FLAGS, 0},
	    {AT_ENTRY, im->eh.e_entry + bias},
	    {AT_UID, getuid()},
	    {AT_EUID, geteuid()},
	    {AT_GID, getgid()},
	    {AT_EGID, getegid()},
	    {AT_SECURE, 0},
	    {AT_RANDOM, (uint64_t)(uintptr_t)rnd},
	    {AT_HWCAP2, getauxval(AT_HWCAP2)},
	    {AT_EXECFN, (uint64_t)(uintptr_t)fn},
	    {AT_PLATFORM, (uint64_t)(uintptr_t)plat},
	    {AT_NULL, 0},
	};
	size_t words = 1 + (size_t)argc + 1 + (size_t)envc + 1 +
		       2 * (sizeof(aux) / sizeof(aux[0]));
	uint64_t *sp = (uint64_t *)(((uintptr_t)top - words * 8) & ~15ul);
	uint64_t *w = sp;
	*w++ = (uint64_t)argc;
	for (int i = 0; i < argc; i++)
		*w++ = (uint64_t)(uintptr_t)uargv[i];
	*w++ = 0;
	for (int i = 0; i < envc; i++)
		*w++ = (uint64_t)(uintptr_t)uenvp[i];
	*w++ = 0;
	memcpy(w, aux, sizeof(aux));
	free(uargv);
	free(uenvp);
	return (uint64_t)(uintptr_t)sp;
}

int run_static(const char *path, char **argv, const struct dune_run_opts *o)
{
	struct image im;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "dune: %s: %s\n", path, strerror(errno));
		return 126;
	}
	if (read_image(fd, &im, argv[0]))
		return 126;
	/* Already inside when a program under dune exec'd us (exec.c). */
	if (!dune_is_inside() && dune_run_enter(o))
		return DUNE_EXIT_FAILURE;
	long bias = map_image(fd, &im, argv[0]);
	close(fd);
	if (bias < 0)
		return 126;
	uint64_t sp = build_stack(argv, environ, &im, (uint64_t)bias, path);
	if (!sp) {
		fprintf(stderr, "dune: %s: cannot build the stack\n", argv[0]);
		return 126;
	}
	const char *base = strrchr(path, '/');
	prctl(PR_SET_NAME, base ? base + 1 : path);
	char *real = realpath(path, NULL);
	dune_set_self_exe(real ? real : path);
	fflush(NULL);
	uint64_t entry = im.eh.e_entry + (uint64_t)bias;
	/* As after execve: rsp at argc, rdx = 0 (no rtld fini function). */
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%edx, %%edx\n\t"
			 "jmp *%1"
			 :
			 : "r"(sp), "r"(entry)
			 : "rdx", "memory");
	__builtin_unreachable();
}
