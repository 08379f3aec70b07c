/* tests/kvm/test_libc.c: after dune_enter(), ordinary libc works in the
 * guest (stdio, malloc, files, errno) and every syscall is forwarded. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <criterion/criterion.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

Test(libc, enter_api_contract)
{
	cr_assert_eq(dune_get_mode(), DUNE_MODE_AUTO, "mode before init");
	cr_assert_eq(dune_enter(), -EPERM, "dune_enter before dune_init");
	int mode = test_mode();
	int other = mode == DUNE_MODE_RING3 ? DUNE_MODE_RING0 : DUNE_MODE_RING3;
	cr_assert_eq(dune_init(mode, DUNE_INIT_QUIET), 0, "%s",
		     dune_strerror_detail());
	cr_assert_eq(dune_init(other, DUNE_INIT_QUIET), 0,
		     "a second dune_init is a no-op returning 0");
	cr_assert_eq(dune_get_mode(), mode,
		     "the second dune_init changed the mode");
	cr_assert_eq(dune_enter(), 0);
	assert_forwarding();
	cr_assert_eq(dune_destroy(), -EBUSY, "destroy with a thread inside");
	assert_forwarding();
}

/* DUNE_MODE_AUTO: ring 0 with VT-x/AMD-V, ring 3 on software KVM. */
Test(libc, auto_mode_follows_the_host)
{
	struct dune_host_info hi;
	cr_assert_eq(dune_host_info(&hi), 0);
	cr_assert_eq(dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET), 0, "%s",
		     dune_strerror_detail());
	cr_assert_eq(dune_get_mode(),
		     hi.hw_virt ? DUNE_MODE_RING0 : DUNE_MODE_RING3,
		     "hw_virt=%d but mode %d", hi.hw_virt, dune_get_mode());
	cr_assert_eq(dune_destroy(), 0);
	cr_assert_eq(dune_get_mode(), DUNE_MODE_AUTO, "mode after destroy");
}

static void *report_inside(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)dune_is_inside();
}

/* dune_is_inside() is 1 exactly on threads running in the guest. */
Test(libc, is_inside_reports_guest_threads)
{
	pthread_t t;
	void *in;
	cr_assert_eq(dune_is_inside(), 0, "before dune_init");
	cr_assert_eq(dune_exit_nop(), -ENOSYS, "the bare exit outside");
	cr_assert_eq(dune_init(test_mode(), DUNE_INIT_QUIET), 0);
	cr_assert_eq(dune_is_inside(), 0, "after dune_init, before dune_enter");
	/* A thread that never entered. */
	cr_assert_eq(pthread_create(&t, NULL, report_inside, NULL), 0);
	cr_assert_eq(pthread_join(t, &in), 0);
	cr_assert_eq((intptr_t)in, 0, "a thread that did not enter");
	cr_assert_eq(dune_enter(), 0);
	assert_forwarding();
	cr_assert_eq(dune_is_inside(), 1,
		     "dune_is_inside() is 0 on a thread running in the guest");
	cr_assert_eq(dune_exit_nop(), 0, "the bare exit inside");
	/* A thread created inside the guest runs inside. */
	cr_assert_eq(pthread_create(&t, NULL, report_inside, NULL), 0);
	cr_assert_eq(pthread_join(t, &in), 0);
	cr_assert_eq((intptr_t)in, 1, "a thread created in the guest");
}

/* A second dune_enter() on a thread already inside is refused. */
Test(libc, enter_twice_is_ebusy, .timeout = 30)
{
	enter_or_fail(test_mode());
	int r = dune_enter();
	cr_assert_eq(r, -EBUSY, "second dune_enter returned %d (%s)", r,
		     strerror(-r));
	assert_forwarding();
}

Test(libc, printf_goes_through_forwarded_write)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	enter_or_fail(test_mode());
	struct dune_stats s0, s1;
	dune_get_stats(&s0);

	/* Point stdout at a pipe, printf, and read the bytes back. */
	fflush(stdout);
	int saved = dup(1);
	cr_assert_geq(saved, 0);
	cr_assert_eq(dup2(p[1], 1), 1);
	int n = printf("hello %s %d %.3f\n", "guest", 42, 2.5);
	cr_assert_eq(fflush(stdout), 0);
	cr_assert_eq(dup2(saved, 1), 1);
	close(saved);
	const char *want = "hello guest 42 2.500\n";
	cr_assert_eq(n, (int)strlen(want));
	char buf[64] = {0};
	cr_assert_eq(read(p[0], buf, sizeof(buf)), (ssize_t)strlen(want));
	cr_assert_str_eq(buf, want);

	dune_get_stats(&s1);
	/* dup, dup2, write, dup2, close, read at least. */
	cr_assert_geq(s1.syscalls - s0.syscalls, 6,
		      "only %llu syscalls were forwarded",
		      (unsigned long long)(s1.syscalls - s0.syscalls));
	assert_forwarding();
}

Test(libc, malloc_and_free)
{
	enter_or_fail(test_mode());
	/* Small (heap), medium and large (mmap threshold) allocations. */
	size_t sizes[] = {16, 1000, 100000, 4u << 20, 32u << 20};
	unsigned char *ptrs[5];
	for (int i = 0; i < 5; i++) {
		ptrs[i] = malloc(sizes[i]);
		cr_assert_not_null(ptrs[i], "malloc(%zu)", sizes[i]);
		memset(ptrs[i], 0x11 * (i + 1), sizes[i]);
	}
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(ptrs[i][0], 0x11 * (i + 1));
		cr_assert_eq(ptrs[i][sizes[i] - 1], 0x11 * (i + 1));
		free(ptrs[i]);
	}
	/* Churn: many allocations, freed in another order. */
	void *many[1000];
	for (int i = 0; i < 1000; i++) {
		many[i] = malloc((size_t)(i * 37 % 5000) + 1);
		cr_assert_not_null(many[i]);
	}
	for (int i = 999; i >= 0; i -= 2)
		free(many[i]);
	for (int i = 0; i < 1000; i += 2)
		free(many[i]);
	void *big = calloc(1, 8u << 20);
	cr_assert_not_null(big);
	cr_assert_eq(((char *)big)[(8u << 20) - 1], 0);
	free(big);
}

Test(libc, files_and_stat)
{
	char path[] = "/tmp/dune-test-libc-XXXXXX";
	enter_or_fail(test_mode());
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	const char msg[] = "written from the guest\n";
	cr_assert_eq(write(fd, msg, sizeof(msg) - 1), (ssize_t)sizeof(msg) - 1);
	cr_assert_eq(close(fd), 0);

	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "stat: %s", strerror(errno));
	cr_assert_eq(st.st_size, (off_t)sizeof(msg) - 1);
	cr_assert(S_ISREG(st.st_mode));

	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	char buf[64] = {0};
	cr_assert_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(msg) - 1);
	cr_assert_str_eq(buf, msg);
	cr_assert_eq(close(fd), 0);

	FILE *f = fopen(path, "a+");
	cr_assert_not_null(f, "fopen: %s", strerror(errno));
	cr_assert_gt(fprintf(f, "line %d\n", 2), 0);
	cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
	char line[64];
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, msg);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "line 2\n");
	cr_assert_eq(fclose(f), 0);

	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENOENT);
}

Test(libc, errno_is_the_hosts)
{
	pid_t pid = getpid();
	enter_or_fail(test_mode());
	cr_assert_eq(getpid(), pid, "the guest has the same PID");
	errno = 0;
	cr_assert_eq(open("/nonexistent-dune-test/file", O_RDONLY), -1);
	cr_assert_eq(errno, ENOENT, "open of a missing file: errno %d (%s)",
		     errno, strerror(errno));
	errno = 0;
	cr_assert_eq(read(-1, NULL, 0), -1);
	cr_assert_eq(errno, EBADF);
	errno = 0;
	cr_assert_eq(mkdir("/tmp", 0700), -1);
	cr_assert_eq(errno, EEXIST);
	errno = 0;
	FILE *f = fopen("/nonexistent-dune-test/file", "r");
	cr_assert_null(f);
	cr_assert_eq(errno, ENOENT);
	/* A successful call after a failing one. */
	cr_assert_eq(access("/", R_OK), 0);
	assert_forwarding();
}

/* dune_set_trace_fd(): one line per forwarded syscall with its result. */
Test(libc, syscall_trace_to_fd)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	cr_assert_eq(dune_set_trace_fd(p[1]), 0);
	enter_or_fail(test_mode());
	(void)getppid();
	cr_assert_eq(open("/nonexistent-dune-trace", O_RDONLY), -1);
	cr_assert_eq(dune_set_trace_fd(-1), 0);
	char buf[4096] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0, "nothing traced");
	cr_assert_not_null(strstr(buf, "getppid("), "trace: %s", buf);
	cr_assert_not_null(strstr(buf, "openat("), "trace: %s", buf);
	cr_assert_not_null(strstr(buf, "ENOENT"), "trace: %s", buf);
	/* Off: nothing more. */
	(void)getppid();
	cr_assert_eq(read(p[0], buf, sizeof(buf)), -1, "traced after turning "
							"tracing off");
	cr_assert_eq(errno, EAGAIN);
}

/* The guest runs with CR4.PKE off, where RDPKRU/WRPKRU fault: CPUID must
 * not offer protection keys, and pkey_alloc must fail as on a CPU without
 * them, or a program that checks either (V8, via glibc's pkey_get) dies
 * of SIGILL. */
Test(libc, no_protection_keys_are_promised)
{
	enter_or_fail(test_mode());
	unsigned a, b, c, d;
	__cpuid_count(7, 0, a, b, c, d);
	cr_assert_eq(c & ((1u << 3) | (1u << 4)), 0,
		     "CPUID.7.ECX offers PKU/OSPKE: %#x", c);
	errno = 0;
	long k = syscall(SYS_pkey_alloc, 0, 0);
	cr_assert(k == -1 && errno == ENOSPC, "pkey_alloc: %ld (%s)", k,
		  strerror(errno));
}
