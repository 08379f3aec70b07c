/* tests/kvm/test_errors.c: expected failures for every bad input: missing
 * or wrong KVM device, no permission, bad mode, running out of memslots,
 * and hypercalls from code that may not make them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

/* After a failed dune_init nothing is left: no fd, no mode, no entry. */
static void expect_clean_failure(int fds_before)
{
	cr_assert_eq(count_fds(), fds_before, "a failed dune_init leaked fds");
	cr_assert_eq(dune_get_mode(), DUNE_MODE_AUTO);
	cr_assert_eq(dune_enter(), -EPERM, "entering after a failed init");
	cr_assert_eq(dune_is_inside(), 0);
}

/* ... and dune_init may be called again. */
static void expect_retry_works(void)
{
	unsetenv("DUNE_KVM_DEV");
	unsetenv("DUNE_MODE");
	int r = dune_init(test_mode(), DUNE_INIT_QUIET);
	cr_assert_eq(r, 0, "dune_init after a failure: %s (%s)", strerror(-r),
		     dune_strerror_detail());
	cr_assert_str_eq(dune_strerror_detail(), "",
			 "a stale failure detail is still reported");
	cr_assert_eq(dune_destroy(), 0);
}

Test(errors, missing_kvm_device)
{
	const char *path = "/nonexistent-dune-test/kvm";
	int fds = count_fds();
	setenv("DUNE_KVM_DEV", path, 1);
	int r = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	cr_assert_eq(r, -ENOENT, "got %d (%s)", r, strerror(-r));
	const char *d = dune_strerror_detail();
	cr_assert_not_null(strstr(d, path), "detail does not name %s: '%s'",
			   path, d);
	expect_clean_failure(fds);
	expect_retry_works();
}

Test(errors, dev_null_is_not_kvm)
{
	int fds = count_fds();
	setenv("DUNE_KVM_DEV", "/dev/null", 1);
	int r = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	cr_assert_eq(r, -ENOSYS, "got %d (%s)", r, strerror(-r));
	const char *d = dune_strerror_detail();
	cr_assert_not_null(strstr(d, "not a KVM device"), "detail: '%s'", d);
	cr_assert_not_null(strstr(d, "/dev/null"), "detail: '%s'", d);
	expect_clean_failure(fds);
	expect_retry_works();
}

/* Without DUNE_INIT_QUIET the reason goes to stderr (for programs that
 * just call dune_init and exit on failure). */
Test(errors, failure_reason_printed_unless_quiet)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_eq(dup2(p[1], 2), 2);
	setenv("DUNE_KVM_DEV", "/dev/null", 1);
	int r = dune_init(DUNE_MODE_AUTO, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(p[1]);
	cr_assert_eq(r, -ENOSYS);
	char buf[512] = {0};
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0, "nothing printed");
	cr_assert_not_null(strstr(buf, "not a KVM device"), "printed: '%s'",
			   buf);
	/* Quiet: nothing. */
	cr_assert_eq(pipe(p), 0);
	dup2(p[1], 2);
	r = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	fflush(stderr);
	dup2(saved, 2);
	close(p[1]);
	cr_assert_eq(r, -ENOSYS);
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 0, "QUIET printed");
}

Test(errors, kvm_device_not_permitted)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to drop to an unprivileged uid");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char msg[300];
		int r;
		if (setresgid(65534, 65534, 65534) ||
		    setgroups(0, NULL) || setresuid(65534, 65534, 65534)) {
			r = 1000;
			snprintf(msg, sizeof(msg), "%d cannot drop to 65534", r);
		} else {
			int fd = open("/dev/kvm", O_RDWR);
			if (fd >= 0) {
				r = 1001; /* world-accessible device */
				snprintf(msg, sizeof(msg), "%d", r);
			} else {
				r = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
				snprintf(msg, sizeof(msg), "%d %s", r,
					 dune_strerror_detail());
			}
		}
		ssize_t w = write(p[1], msg, strlen(msg));
		_exit(w > 0 ? 0 : 1);
	}
	close(p[1]);
	char buf[300] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_gt(n, 0, "child reported nothing (status %#x)", st);
	int r = atoi(buf);
	if (r == 1001)
		cr_skip_test("/dev/kvm is accessible to every user on this "
			     "host: cannot provoke EACCES");
	cr_assert_neq(r, 1000, "%s", buf);
	cr_assert_eq(r, -EACCES, "dune_init as uid 65534: %s", buf);
	cr_assert_not_null(strstr(buf, "permission"),
			   "detail does not talk about permission: %s", buf);
	cr_assert_not_null(strstr(buf, "/dev/kvm"), "detail: %s", buf);
}

Test(errors, invalid_mode_value)
{
	int fds = count_fds();
	int r = dune_init((enum dune_mode)7, DUNE_INIT_QUIET);
	cr_assert_eq(r, -EINVAL, "got %d", r);
	cr_assert_not_null(strstr(dune_strerror_detail(), "7"), "detail: '%s'",
			   dune_strerror_detail());
	expect_clean_failure(fds);
	r = dune_init((enum dune_mode)-1, DUNE_INIT_QUIET);
	cr_assert_eq(r, -EINVAL, "mode -1: got %d", r);
	expect_retry_works();
}

Test(errors, invalid_dune_mode_env)
{
	int fds = count_fds();
	setenv("DUNE_MODE", "bogus", 1);
	int r = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	cr_assert_eq(r, -EINVAL, "got %d", r);
	cr_assert_not_null(strstr(dune_strerror_detail(), "bogus"),
			   "detail: '%s'", dune_strerror_detail());
	expect_clean_failure(fds);
	/* An explicit mode does not read DUNE_MODE. */
	r = dune_init(DUNE_MODE_RING3, DUNE_INIT_QUIET);
	cr_assert_eq(r, 0, "explicit mode with DUNE_MODE=bogus: %d", r);
	cr_assert_eq(dune_destroy(), 0);
	/* A valid value is honoured with DUNE_MODE_AUTO. */
	setenv("DUNE_MODE", "ring0", 1);
	cr_assert_eq(dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET), 0);
	cr_assert_eq(dune_get_mode(), DUNE_MODE_RING0);
	cr_assert_eq(dune_destroy(), 0);
	setenv("DUNE_MODE", "ring3", 1);
	cr_assert_eq(dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET), 0);
	cr_assert_eq(dune_get_mode(), DUNE_MODE_RING3);
	cr_assert_eq(dune_destroy(), 0);
}

#define PG 4096ul
/* Pages this far apart cannot share a memslot: the vmm bridges gaps
 * between slots only up to 1 GiB when it runs out of them. */
#define SPACING (2ul << 30)
#define SPOTS 128ul

/* A PROT_NONE reservation (no memslot) whose spot i is at SPACING * i. */
static char *far_region(void)
{
	char *r = mmap(NULL, SPOTS * SPACING, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(r, MAP_FAILED);
	return r;
}

/* Enter with the memslot cap at what the process needs now plus extra
 * (what it needs varies: an ASan build maps more). Returns the cap. */
static int enter_capped(int extra)
{
	struct dune_stats st;
	char buf[32];
#ifdef __SANITIZE_ADDRESS__
	/* ASan touches its shadow memory lazily, and each new piece needs a
	 * memslot: a process that ran out of them cannot run ASan code. */
	cr_skip_test("memslot exhaustion is tested in the plain build (ASan "
		     "needs memslots for its shadow memory on demand)");
#endif
	cr_assert_eq(dune_init(test_mode(), DUNE_INIT_QUIET), 0);
	dune_get_stats(&st);
	cr_assert_eq(dune_destroy(), 0);
	int cap = (int)st.memslots + extra;
	snprintf(buf, sizeof(buf), "%d", cap);
	setenv("DUNE_MAX_MEMSLOTS", buf, 1);
	enter_or_fail(test_mode());
	return cap;
}

Test(errors, too_many_memslots_is_enomem_and_recoverable, .timeout = 60)
{
	const int npages = (int)SPOTS * 2;
	struct dune_stats st;
	const int cap = enter_capped(40);
	dune_get_stats(&st);
	cr_assert_lt(st.memslots, (uint64_t)cap,
		     "the process alone needs %llu slots",
		     (unsigned long long)st.memslots);

	/* Pages of a PROT_NONE region made RW, 2 GiB apart: each needs a
	 * slot of its own. */
	char *region = far_region();
	int i, r = 0, err = 0;
	for (i = 0; i < npages / 2; i++) {
		r = mprotect(region + i * SPACING, PG, PROT_READ | PROT_WRITE);
		if (r) {
			err = errno;
			break;
		}
		region[i * SPACING] = (char)i;
	}
	cr_assert_eq(r, -1, "%d separate mappings and no failure with a cap "
			    "of %d memslots", i, cap);
	cr_assert_eq(err, ENOMEM, "mprotect failed with %s, want ENOMEM",
		     strerror(err));
	cr_assert_gt(i, 0);
	dune_get_stats(&st);
	cr_log_info("ENOMEM after %d separate RW pages; %llu memslots in use", i,
		    (unsigned long long)st.memslots);
	cr_assert_leq(st.memslots, (uint64_t)cap, "%llu memslots in use",
		      (unsigned long long)st.memslots);

	/* The process survived with its memory intact. */
	for (int j = 0; j < i; j++)
		cr_assert_eq(region[j * SPACING], (char)j, "page %d", j);
	/* The failed mprotect left the page as it was. */
	cr_assert_eq(host_prot(region + i * SPACING), PROT_NONE,
		     "mprotect failed but changed the host page");
	/* A new separate mapping cannot get a slot either: clean ENOMEM. */
	char *lone = mmap(region + (i + 2) * SPACING, PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(lone, MAP_FAILED, "mmap got a slot beyond the cap");
	cr_assert_eq(errno, ENOMEM, "mmap: %s", strerror(errno));

	/* Free 8 slots; then the failed page and a new mapping work. */
	for (int j = 0; j < 8; j++)
		cr_assert_eq(mprotect(region + j * SPACING, PG, PROT_NONE), 0);
	cr_assert_eq(mprotect(region + i * SPACING, PG, PROT_READ | PROT_WRITE),
		     0, "mprotect after freeing slots: %s", strerror(errno));
	region[i * SPACING] = 'x';
	cr_assert_eq(region[i * SPACING], 'x');
	lone = mmap(region + (i + 2) * SPACING, PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_neq(lone, MAP_FAILED, "mmap after freeing slots: %s",
		      strerror(errno));
	lone[100] = 'y';
	cr_assert_eq(lone[100], 'y');
	cr_assert_eq(munmap(region, SPOTS * SPACING), 0);
	dune_get_stats(&st);
	cr_assert_lt(st.memslots, (uint64_t)cap - 8,
		     "munmap did not give the slots back");
}

/* in/out by the program itself: natively (no ioperm) a #GP, i.e. SIGSEGV
 * with si_code SI_KERNEL. dune's ports are guestlib's: the program must
 * see the same from its own code, in either mode (in ring-0 mode no I/O
 * bitmap stops it, so the vmm does). The one exception is the hypercall
 * port in ring-0 mode, open to guest ring-0 code (docs/abi.md). */
static void out_d0(void *arg)
{
	(void)arg;
	__asm__ volatile("outb %%al, $0xd0" ::"a"(39) : "memory");
}
static void out_d1(void *arg)
{
	(void)arg;
	__asm__ volatile("outb %%al, $0xd1" ::"a"(0) : "memory");
}
static void out_d2(void *arg)
{
	long rax = 99; /* no such hypercall */
	__asm__ volatile("outb %%al, $0xd2" : "+a"(rax) : : "memory");
	*(long *)arg = rax;
}
static void out_80(void *arg)
{
	(void)arg;
	__asm__ volatile("outb %%al, $0x80" ::"a"(0) : "memory");
}
static void in_80(void *arg)
{
	(void)arg;
	uint8_t v;
	__asm__ volatile("inb $0x80, %0" : "=a"(v) : : "memory");
}

Test(errors, program_port_io_is_sigsegv, .timeout = 30)
{
	void (*fns[])(void *) = {out_d0, out_d1, out_d2, out_80, in_80};
	const char *names[] = {"out 0xd0 (syscall)", "out 0xd1 (trap)",
			       "out 0xd2 (hypercall)", "out 0x80", "in 0x80"};
	enum { N = 5, HCALL = 2 };
	siginfo_t native[N], guest;
	long rax = 0;
	for (int k = 0; k < N; k++)
		cr_assert_eq(probe_call(fns[k], &rax, &native[k]), SIGSEGV,
			     "natively, %s is not SIGSEGV", names[k]);
	int mode = test_mode();
	enter_or_fail(mode);
	for (int k = 0; k < N; k++) {
		struct dune_stats s0, s1;
		dune_get_stats(&s0);
		rax = 0;
		int sig = probe_call(fns[k], &rax, &guest);
		dune_get_stats(&s1);
		if (k == HCALL && mode == DUNE_MODE_RING0) {
			cr_assert_eq(sig, 0, "%s from ring 0: signal %d",
				     names[k], sig);
			cr_assert_eq(rax, -ENOSYS, "%s: unknown call gave %ld",
				     names[k], rax);
			continue;
		}
		cr_assert_geq(s1.signals, s0.signals + 1,
			      "%s: the signal did not come from the vmm",
			      names[k]);
		cr_assert_eq(sig, SIGSEGV, "%s: signal %d", names[k], sig);
		cr_assert_eq(guest.si_code, native[k].si_code,
			     "%s: si_code %d, natively %d", names[k],
			     guest.si_code, native[k].si_code);
		cr_assert_eq(guest.si_addr, native[k].si_addr,
			     "%s: si_addr %p, natively %p", names[k],
			     guest.si_addr, native[k].si_addr);
	}
	/* Still alive and inside; the bare exit still works: one exit, 0,
	 * and no forwarded syscall. */
	assert_forwarding();
	struct dune_stats s0, s1;
	dune_get_stats(&s0);
	cr_assert_eq(dune_exit_nop(), 0);
	dune_get_stats(&s1);
	cr_assert_geq(s1.exits, s0.exits + 1);
	cr_assert_eq(s1.syscalls, s0.syscalls, "the bare exit was forwarded");
}

/* At the memslot cap every call's result agrees with the host's mappings:
 * a refused change leaves them as they were; shrinking changes (munmap,
 * mprotect NONE) never fail for want of a slot. */
Test(errors, memslot_cap_results_match_host_mappings, .timeout = 60)
{
	const int npages = (int)SPOTS * 2;
	enter_capped(40);
	char *big = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(big, MAP_FAILED);
	memset(big, 1, 16 * PG);
	/* A small mapping fenced by PROT_NONE pages: mremap must move it. */
	char *fence = mmap(NULL, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	cr_assert_neq(fence, MAP_FAILED);
	char *small = fence + PG;
	cr_assert_eq(mprotect(small, 4 * PG, PROT_READ | PROT_WRITE), 0);
	small[0] = 's';
	char *region = far_region();
	int i, r = 0;
	for (i = 0; i < npages / 2 && !r; i++)
		r = mprotect(region + i * SPACING, PG, PROT_READ | PROT_WRITE);
	cr_assert_eq(r, -1, "the memslot cap was never reached");
	cr_assert_eq(errno, ENOMEM);
	char *failed = region + (i - 1) * SPACING;

	/* 1. mprotect(RW) that needed a new slot. */
	int prot = host_prot(failed);
	cr_expect_eq(prot, PROT_NONE,
		     "mprotect(PROT_READ|PROT_WRITE) returned ENOMEM but the "
		     "host page is now prot %d (PROT_NONE = 0 expected)", prot);
	/* 2. munmap splitting a mapped range (one slot becomes two). */
	errno = 0;
	r = munmap(big + 8 * PG, PG);
	int e = errno;
	prot = host_prot(big + 8 * PG);
	cr_expect_eq(r == 0, prot == -1,
		     "munmap returned %d (%s) but the page is %s", r,
		     r ? strerror(e) : "ok", prot == -1 ? "unmapped" : "mapped");
	/* 3. mprotect(PROT_NONE) splitting a mapped range. */
	errno = 0;
	r = mprotect(big + 4 * PG, PG, PROT_NONE);
	e = errno;
	prot = host_prot(big + 4 * PG);
	cr_expect_eq(r == 0, prot == PROT_NONE,
		     "mprotect(PROT_NONE) returned %d (%s) but the host page "
		     "has prot %d", r, r ? strerror(e) : "ok", prot);
	/* 4. mremap that moves a mapping to a place needing a new slot. */
	errno = 0;
	char *moved = mremap(small, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
	e = errno;
	prot = host_prot(small);
	if (moved == MAP_FAILED)
		cr_expect_neq(prot, -1,
			      "mremap failed (%s) but the old range is gone",
			      strerror(e));
	else
		cr_expect_eq(moved[0], 's');
}
