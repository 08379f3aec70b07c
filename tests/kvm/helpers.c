/* tests/kvm/helpers.c: shared helpers of the KVM tests. */
#define _GNU_SOURCE
#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dune/dune.h"

int test_mode(void)
{
	struct dune_host_info hi;
	const char *m = getenv("DUNE_TEST_MODE");
	int r = dune_host_info(&hi);
	cr_assert_eq(r, 0, "dune_host_info: %s", strerror(-r));
	if (!m || !*m)
		return hi.hw_virt ? DUNE_MODE_RING0 : DUNE_MODE_RING3;
	if (!strcmp(m, "ring3"))
		return DUNE_MODE_RING3;
	cr_assert_str_eq(m, "ring0", "DUNE_TEST_MODE=%s: ring0 or ring3", m);
	if (!hi.hw_virt)
		cr_skip_test("ring 0 needs VT-x/AMD-V: this host's KVM emulates "
			     "guest ring 0 and cannot run libc there");
	return DUNE_MODE_RING0;
}

void enter_or_fail(int mode)
{
	int r = dune_init((enum dune_mode)mode, DUNE_INIT_QUIET);
	cr_assert_eq(r, 0, "dune_init: %s (%s)", strerror(-r),
		     dune_strerror_detail());
	r = dune_enter();
	cr_assert_eq(r, 0, "dune_enter: %s", strerror(-r));
	assert_forwarding();
}

void assert_forwarding(void)
{
	struct dune_stats a, b;
	dune_get_stats(&a);
	(void)getppid();
	dune_get_stats(&b);
	cr_assert_gt(b.syscalls, a.syscalls,
		     "getppid() was not forwarded: not inside the guest");
}

static sigjmp_buf probe_jmp;
static siginfo_t probe_si;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	probe_si = *si;
	siglongjmp(probe_jmp, 1);
}

int probe_call(void (*fn)(void *), void *arg, siginfo_t *si)
{
	struct sigaction sa, old_segv, old_bus;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGSEGV, &sa, &old_segv), 0);
	cr_assert_eq(sigaction(SIGBUS, &sa, &old_bus), 0);
	volatile int sig = 0;
	memset(&probe_si, 0, sizeof(probe_si));
	if (sigsetjmp(probe_jmp, 1) == 0)
		fn(arg);
	else
		sig = probe_si.si_signo;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	if (sig && si)
		*si = probe_si;
	return sig;
}

struct access {
	volatile char *p;
	int write;
};

static void do_access(void *arg)
{
	struct access *a = arg;
	if (a->write)
		*a->p = 0x5a;
	else
		(void)*a->p;
}

int probe_access(volatile char *p, int write, siginfo_t *si)
{
	struct access a = {p, write};
	return probe_call(do_access, &a, si);
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d, "opendir /proc/self/fd: %s", strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

long status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	cr_assert_not_null(f);
	char line[256];
	long v = -1;
	size_t n = strlen(name);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

int run_capture(const char *const argv[], char *out, size_t cap,
		size_t *len)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		unsetenv("DUNE_MODE");
		unsetenv("DUNE_TRACE");
		unsetenv("DUNE_STATS");
		unsetenv("DUNE_KVM_DEV");
		unsetenv("DUNE_MAX_MEMSLOTS");
		if (dup2(p[1], 1) < 0)
			_exit(126);
		char *args[16];
		int n = 0;
		while (argv[n] && n < 15) {
			args[n] = strdup(argv[n]);
			n++;
		}
		args[n] = NULL;
		execv(args[0], args);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	for (;;) {
		char buf[4096];
		ssize_t k = read(p[0], buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t room = cap - n < (size_t)k ? cap - n : (size_t)k;
		memcpy(out + n, buf, room);
		n += room;
	}
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	*len = n;
	return st;
}

int host_prot(const void *addr)
{
	static char maps[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY);
	cr_assert_geq(fd, 0);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(maps) - 1 &&
	       (k = read(fd, maps + n, sizeof(maps) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	maps[n] = 0;
	uintptr_t a = (uintptr_t)addr;
	for (char *l = maps; *l;) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(l, "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo &&
		    a < hi)
			return (perms[0] == 'r' ? PROT_READ : 0) |
			       (perms[1] == 'w' ? PROT_WRITE : 0) |
			       (perms[2] == 'x' ? PROT_EXEC : 0);
		char *nl = strchr(l, '\n');
		if (!nl)
			break;
		l = nl + 1;
	}
	return -1;
}
