/* tests/compat/progs/misc.c: single behaviours docs/limitations.md lists
 * as different from Linux, each checked against Linux's behaviour so the
 * case turns green when the limitation goes away.
 * usage: misc clone3     clone3(2) without CLONE_VM (a fork)
 *        misc selectors  CS/SS as read by the program and as saved in a
 *                        signal frame (Linux: 0x33/0x2b)
 *        misc seccomp    seccomp strict mode, then write and _exit
 *        misc forkalt    a fork child keeps the parent's sigaltstack
 *        misc sysexit    the only thread leaves with exit(2), not
 *                        exit_group(2): the process exits with status 5 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

static int test_clone3(void)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	long r = syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == 0)
		_exit(21);
	if (r < 0) {
		printf("clone3: -1 %s\n", strerrorname_np(errno));
		return check_done("clone3");
	}
	int st;
	waitpid((pid_t)r, &st, 0);
	printf("clone3: child exited %d\n", WEXITSTATUS(st));
	return check_done("clone3");
}

static volatile uint64_t frame_csgsfs;

static void sel_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	frame_csgsfs = (uint64_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_CSGSFS];
}

static int test_selectors(void)
{
	uint16_t cs, ss;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	__asm__ volatile("mov %%ss, %0" : "=r"(ss));
	printf("program reads cs=%#x ss=%#x\n", cs, ss);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sel_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("signal frame cs=%#x ss=%#x\n", (unsigned)(frame_csgsfs & 0xffff),
	       (unsigned)(frame_csgsfs >> 48));
	return check_done("selectors");
}

static int test_seccomp(void)
{
	fflush(stdout);
	static const char msg[] = "write after SECCOMP_MODE_STRICT\n";
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) {
		printf("prctl: %s\n", strerror(errno));
		return 1;
	}
	if (write(1, msg, sizeof(msg) - 1) < 0)
		syscall(SYS_exit, 2);
	syscall(SYS_exit, 0); /* exit, not exit_group: strict mode */
	return 1;
}

static int test_forkalt(void)
{
	size_t sz = 64 * 1024;
	void *alt = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = {.ss_sp = alt, .ss_size = sz};
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		stack_t cur;
		sigaltstack(NULL, &cur);
		printf("child's sigaltstack: %s\n",
		       cur.ss_sp == alt && cur.ss_size == sz &&
				       !(cur.ss_flags & SS_DISABLE)
			       ? "inherited"
			       : "lost");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	return check_done("forkalt");
}

static int test_sysexit(void)
{
	printf("main thread calls exit(2) with status 5\n");
	fflush(stdout);
	syscall(SYS_exit, 5);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "clone3"))
		return test_clone3();
	if (argc == 2 && !strcmp(argv[1], "selectors"))
		return test_selectors();
	if (argc == 2 && !strcmp(argv[1], "seccomp"))
		return test_seccomp();
	if (argc == 2 && !strcmp(argv[1], "forkalt"))
		return test_forkalt();
	if (argc == 2 && !strcmp(argv[1], "sysexit"))
		return test_sysexit();
	fputs("usage: misc clone3|selectors|seccomp|forkalt|sysexit\n", stderr);
	return 2;
}
