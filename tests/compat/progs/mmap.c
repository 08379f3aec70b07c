/* tests/compat/progs/mmap.c: the mapping patterns real programs use:
 * anonymous, file-backed shared and private, shared with a child, mremap
 * growth and moves, MAP_FIXED replacement, mprotect changes caught and
 * fixed by a SIGSEGV handler, W^X code generation, big PROT_NONE
 * reservations, partial munmap, MADV_DONTNEED, brk. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PG 4096UL

static volatile sig_atomic_t segv_count, segv_code;
static volatile uintptr_t segv_addr;
static unsigned char *volatile fix_base;
static volatile size_t fix_len;
static volatile sig_atomic_t fix_mode; /* 1: mprotect RW and retry, 2: longjmp out */
static sigjmp_buf jb;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_count++;
	segv_code = si->si_code;
	segv_addr = (uintptr_t)si->si_addr;
	if (fix_mode == 1)
		mprotect(fix_base, fix_len, PROT_READ | PROT_WRITE);
	else
		siglongjmp(jb, 1);
}

/* Read *p; returns 1 if that faulted (the handler jumps back here). */
static int read_faults(const volatile unsigned char *p)
{
	fix_mode = 2;
	segv_count = 0;
	if (!sigsetjmp(jb, 1))
		(void)*p;
	return segv_count;
}

static uint64_t sum(const unsigned char *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 131 + p[i];
	return s;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 13 + seed);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);

	/* Anonymous private: zero-filled, every page touched. */
	size_t big = 32UL << 20;
	unsigned char *a = mmap(NULL, big, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED, "mmap anon");
	int zero = 1;
	for (size_t i = 0; i < big; i += PG)
		zero &= a[i] == 0;
	fill(a, big, 1);
	printf("anonymous 32 MiB: zero-filled=%d checksum=%016llx\n", zero,
	       (unsigned long long)sum(a, big));

	/* Partial munmap in the middle: both sides stay. */
	CHECK(munmap(a + 8 * PG, 8 * PG) == 0, "munmap");
	int faulted = read_faults(a + 9 * PG);
	printf("hole after munmap: segv=%d code=%s addr_ok=%d; sides intact=%d\n",
	       faulted, segv_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other",
	       segv_addr == (uintptr_t)(a + 9 * PG),
	       a[7 * PG] == (unsigned char)(7 * PG * 13 + 1) &&
		       a[16 * PG] == (unsigned char)(16 * PG * 13 + 1));
	munmap(a, big);

	/* MADV_DONTNEED on private anonymous memory: zero again. */
	a = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	memset(a, 0xab, 64 * PG);
	madvise(a + 16 * PG, 16 * PG, MADV_DONTNEED);
	printf("MADV_DONTNEED: dropped=%d kept=%d\n", a[20 * PG] == 0,
	       a[40 * PG] == 0xab);

	/* mremap: grow in steps (moving allowed), contents follow. */
	size_t len = PG;
	fill(a, len, 3);
	uint64_t want = sum(a, len);
	int moved = 0;
	for (int i = 0; i < 40; i++) {
		size_t nlen = len + 16 * PG * (size_t)(i + 1);
		unsigned char *b = mremap(a, len, nlen, MREMAP_MAYMOVE);
		CHECK(b != MAP_FAILED, "mremap: %s", strerror(errno));
		moved += b != a;
		CHECK(b[nlen - 1] == 0, "new part not zero");
		a = b;
		len = nlen;
	}
	printf("mremap growth to %zu KiB: old contents kept=%d\n", len / 1024,
	       sum(a, PG) == want);
	/* Shrink, then move to a fixed spot. */
	a = mremap(a, len, 2 * PG, 0);
	CHECK(a != MAP_FAILED, "mremap shrink");
	unsigned char *spot = mmap(NULL, 4 * PG, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *b = mremap(a, 2 * PG, 2 * PG,
				  MREMAP_MAYMOVE | MREMAP_FIXED, spot + PG);
	printf("mremap FIXED: at target=%d contents kept=%d\n", b == spot + PG,
	       sum(b, PG) == want);
	printf("old address after move: segv=%d\n", read_faults(a));
	munmap(spot, 4 * PG);

	/* MAP_FIXED over part of a mapping replaces it. */
	a = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(a, 0x5a, 16 * PG);
	b = mmap(a + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED anon replace: same address=%d new zero=%d "
	       "neighbours kept=%d\n",
	       b == a + 4 * PG, b[0] == 0 && b[4 * PG - 1] == 0,
	       a[4 * PG - 1] == 0x5a && a[8 * PG] == 0x5a);

	/* File-backed shared: writes through the map reach the file and
	 * writes to the file show in the map. */
	int fd = open("mapped.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open");
	size_t flen = 256 * PG;
	CHECK(ftruncate(fd, (off_t)flen) == 0, "ftruncate");
	unsigned char *f = mmap(NULL, flen, PROT_READ | PROT_WRITE, MAP_SHARED,
				fd, 0);
	CHECK(f != MAP_FAILED, "mmap file");
	fill(f, flen, 7);
	CHECK(msync(f, flen, MS_SYNC) == 0, "msync");
	unsigned char *rb = malloc(flen);
	CHECK(pread(fd, rb, flen, 0) == (ssize_t)flen, "pread");
	printf("shared file map -> read(): equal=%d\n", !memcmp(rb, f, flen));
	CHECK(pwrite(fd, "HELLO", 5, 3 * PG) == 5, "pwrite");
	printf("pwrite -> shared map: %.5s\n", (char *)f + 3 * PG);

	/* MAP_FIXED with a file over anonymous memory. */
	b = mmap(a + 8 * PG, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd,
		 3 * PG);
	printf("MAP_FIXED file over anon: %.5s\n", (char *)b);
	munmap(a, 16 * PG);

	/* Private file map: copy on write, file untouched. */
	unsigned char *pv = mmap(NULL, flen, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE, fd, 0);
	pv[3 * PG] = 'J';
	unsigned char c0;
	CHECK(pread(fd, &c0, 1, 3 * PG) == 1, "pread");
	printf("private file map: map=%c file=%c shared map=%c\n", pv[3 * PG],
	       c0, f[3 * PG]);
	munmap(pv, flen);

	/* Shared with a child: both see each other's writes. */
	volatile uint32_t *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	sh[0] = 1;
	pid_t c = fork();
	if (c == 0) {
		int ok = sh[0] == 1;
		sh[1] = 0xc0ffee;
		f[5 * PG] = 'C'; /* and through the file map */
		_exit(ok ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("MAP_SHARED with a child: child saw parent=%d parent sees "
	       "child=%d file map=%c\n",
	       WEXITSTATUS(st) == 0, sh[1] == 0xc0ffee, f[5 * PG]);
	munmap(f, flen);
	close(fd);

	/* mprotect: read-only page, a write faults, the handler makes it
	 * writable and the write is retried. */
	a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[PG] = 1;
	mprotect(a, 4 * PG, PROT_READ);
	fix_base = a;
	fix_len = 4 * PG;
	fix_mode = 1;
	segv_count = 0;
	((volatile unsigned char *)a)[PG + 5] = 9;
	printf("write to PROT_READ: segv=%d code=%s addr_ok=%d then "
	       "written=%d\n",
	       segv_count, segv_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other",
	       segv_addr == (uintptr_t)(a + PG + 5), a[PG + 5] == 9);
	mprotect(a, 4 * PG, PROT_NONE);
	segv_count = 0;
	unsigned char r = ((volatile unsigned char *)a)[2 * PG];
	printf("read of PROT_NONE: segv=%d code=%s value=%d\n", segv_count,
	       segv_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other", r);
	mprotect(a, 4 * PG, PROT_READ);
	printf("back to PROT_READ keeps data: %d\n", a[PG] == 1);

	/* W^X code: write code, flip to R+X, call it, rewrite, call. */
	static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
	mprotect(a, PG, PROT_READ | PROT_WRITE);
	memcpy(a, code, sizeof(code));
	mprotect(a, PG, PROT_READ | PROT_EXEC);
	int (*fn)(void) = (int (*)(void))(uintptr_t)a;
	int v1 = fn();
	mprotect(a, PG, PROT_READ | PROT_WRITE);
	a[1] = 43;
	mprotect(a, PG, PROT_READ | PROT_EXEC);
	int v2 = fn();
	printf("generated code: %d then %d\n", v1, v2);
	munmap(a, 4 * PG);

	/* A large PROT_NONE reservation, committed piecewise (JITs and GC
	 * heaps do this). */
	size_t res = 8UL << 30;
	unsigned char *rsv = mmap(NULL, res, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				  -1, 0);
	CHECK(rsv != MAP_FAILED, "reserve: %s", strerror(errno));
	int ok = 1;
	for (size_t off = 0; off < res; off += 1UL << 30) {
		CHECK(mprotect(rsv + off, 16 * PG, PROT_READ | PROT_WRITE) == 0,
		      "commit");
		rsv[off] = (unsigned char)(off >> 30);
		rsv[off + 16 * PG - 1] = 1;
	}
	for (size_t off = 0; off < res; off += 1UL << 30)
		ok &= rsv[off] == (unsigned char)(off >> 30);
	printf("8 GiB PROT_NONE reservation, 8 pieces committed: ok=%d\n", ok);
	munmap(rsv, res);

	/* brk */
	char *b0 = sbrk(0);
	CHECK(sbrk(1 << 20) == b0, "sbrk");
	memset(b0, 1, 1 << 20);
	CHECK(sbrk(-(1 << 19)) != (void *)-1, "sbrk shrink");
	printf("brk grow 1 MiB and shrink: ok=%d\n", sbrk(0) == b0 + (1 << 19));
	return check_done("mmap");
}
