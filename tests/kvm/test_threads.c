/* tests/kvm/test_threads.c: threads created inside the guest (each gets a
 * vCPU) and fork from inside the guest (the child gets its own VM). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

/* A thread proves it runs in the guest with one bare exit: the vmm
 * answers dune_exit_nop() with 0, the host kernel with -ENOSYS.
 * (dune_is_inside() has its own test in test_libc.c.) */
static int in_guest(void)
{
	return dune_exit_nop() == 0;
}

struct targ {
	long in;
	pid_t pid, tid;
	int inside;
};

static void *thread_fn(void *p)
{
	struct targ *a = p;
	a->inside = in_guest();
	a->pid = getpid();
	a->tid = (pid_t)syscall(SYS_gettid);
	return (void *)(intptr_t)(a->in * 2 + 1);
}

Test(threads, guest_thread_returns_value)
{
	enter_or_fail(test_mode());
	struct targ a = {.in = 20};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, thread_fn, &a), 0);
	void *ret = NULL;
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq((intptr_t)ret, 41, "thread returned %ld", (long)(intptr_t)ret);
	cr_assert_eq(a.inside, 1, "the new thread is not inside the guest");
	cr_assert_eq(a.pid, getpid());
	cr_assert_neq(a.tid, (pid_t)syscall(SYS_gettid), "same tid as main");
	assert_forwarding();
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *contend(void *p)
{
	(void)p;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		if (i % 256 == 0)
			sched_yield(); /* forces contention: futex syscalls */
		pthread_mutex_unlock(&mu);
	}
	return (void *)(intptr_t)in_guest();
}

Test(threads, concurrent_guest_threads_share_memory)
{
	enter_or_fail(test_mode());
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, contend, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *in = NULL;
		cr_assert_eq(pthread_join(t[i], &in), 0);
		cr_assert_eq((intptr_t)in, 1, "thread %d not inside", i);
	}
	cr_assert_eq(counter, 4 * 2000);
}

Test(threads, fork_child_runs_and_is_waited_for)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	enter_or_fail(test_mode());
	volatile int shared = 5;
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child: its own process, inside its own VM, with a copy of
		 * the parent's memory. */
		pid_t me = getpid();
		int ok = in_guest() && me != parent && shared == 5 &&
			 getppid() == parent;
		shared = 6;
		if (write(p[1], &me, sizeof(me)) != sizeof(me))
			_exit(20);
		_exit(ok ? 7 : 21);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid, "waitpid: %s", strerror(errno));
	cr_assert(WIFEXITED(st), "child status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 7, "child exit %d (20/21: child checks)",
		     WEXITSTATUS(st));
	pid_t seen = 0;
	cr_assert_eq(read(p[0], &seen, sizeof(seen)), (ssize_t)sizeof(seen));
	cr_assert_eq(seen, pid, "the child saw pid %d, fork returned %d", seen,
		     pid);
	cr_assert_eq(shared, 5, "the child's write reached the parent");
	assert_forwarding();
}

static volatile uintptr_t bad_addr = 0x10;

Test(threads, fork_child_killed_by_signal)
{
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	enter_or_fail(test_mode());
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)bad_addr = 1;
		_exit(99);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		  "child status %#x, want death by SIGSEGV", st);
}

Test(threads, fork_exec_from_guest)
{
	enter_or_fail(test_mode());
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
		_exit(99);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 5, "status %#x", st);
}
