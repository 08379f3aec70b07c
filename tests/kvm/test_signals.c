/* tests/kvm/test_signals.c: asynchronous signals reach the guest's own
 * handlers with the native siginfo, masks, SA_RESTART/EINTR, sigaltstack
 * and default actions; the interrupted FPU state survives a handler. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

static volatile sig_atomic_t got;
static siginfo_t last;
static volatile uintptr_t handler_sp;
static int wake_fd = -1;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char local;
	got = sig;
	last = *si;
	handler_sp = (uintptr_t)&local;
	if (wake_fd >= 0) {
		char c = 'w';
		ssize_t w = write(wake_fd, &c, 1);
		(void)w;
	}
}

static void handle(int sig, int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(sig, &sa, NULL), 0);
}

Test(signals, raise_runs_guest_handler_with_siginfo)
{
	enter_or_fail(test_mode());
	handle(SIGUSR1, 0);
	struct dune_stats s0, s1;
	dune_get_stats(&s0);
	got = 0;
	cr_assert_eq(raise(SIGUSR1), 0);
	dune_get_stats(&s1);
	cr_assert_eq(got, SIGUSR1, "the handler did not run");
	cr_assert_eq(last.si_signo, SIGUSR1);
	cr_assert_eq(last.si_code, SI_TKILL, "si_code %d", last.si_code);
	cr_assert_eq(last.si_pid, getpid());
	cr_assert_geq(s1.signals, s0.signals + 1, "not delivered by the vmm");
}

Test(signals, blocked_signal_delivered_on_unblock)
{
	enter_or_fail(test_mode());
	handle(SIGUSR2, 0);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &set, &old), 0);
	got = 0;
	cr_assert_eq(kill(getpid(), SIGUSR2), 0);
	cr_assert_eq(got, 0, "delivered while blocked");
	sigset_t pend;
	cr_assert_eq(sigpending(&pend), 0);
	cr_assert(sigismember(&pend, SIGUSR2), "not pending while blocked");
	cr_assert_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	cr_assert_eq(got, SIGUSR2, "not delivered after unblocking");
	cr_assert_eq(last.si_code, SI_USER);
}

static void arm_timer_ms(int ms)
{
	struct itimerval it = {{0, 0}, {0, ms * 1000}};
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

Test(signals, blocking_read_interrupted_without_sa_restart, .timeout = 30)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	enter_or_fail(test_mode());
	handle(SIGALRM, 0);
	got = 0;
	arm_timer_ms(50);
	char c;
	errno = 0;
	ssize_t n = read(p[0], &c, 1);
	cr_assert_eq(n, -1, "read returned %zd", n);
	cr_assert_eq(errno, EINTR, "errno %s", strerror(errno));
	cr_assert_eq(got, SIGALRM);
}

Test(signals, blocking_read_restarted_with_sa_restart, .timeout = 30)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	enter_or_fail(test_mode());
	handle(SIGALRM, SA_RESTART);
	wake_fd = p[1]; /* the handler writes the byte the read waits for */
	got = 0;
	arm_timer_ms(50);
	char c = 0;
	ssize_t n = read(p[0], &c, 1);
	wake_fd = -1;
	cr_assert_eq(n, 1, "read returned %zd (%s)", n, strerror(errno));
	cr_assert_eq(c, 'w');
	cr_assert_eq(got, SIGALRM);
}

Test(signals, handler_runs_on_sigaltstack)
{
	static char alt[64 * 1024];
	enter_or_fail(test_mode());
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
	cr_assert_eq(sigaltstack(&ss, NULL), 0);
	handle(SIGUSR1, SA_ONSTACK);
	handler_sp = 0;
	cr_assert_eq(raise(SIGUSR1), 0);
	cr_assert(handler_sp >= (uintptr_t)alt &&
			  handler_sp < (uintptr_t)alt + sizeof(alt),
		  "handler stack %#lx outside the alternate stack [%p, +%zu)",
		  (unsigned long)handler_sp, (void *)alt, sizeof(alt));
	stack_t cur;
	cr_assert_eq(sigaltstack(NULL, &cur), 0);
	cr_assert_eq(cur.ss_sp, (void *)alt);
	cr_assert_eq(cur.ss_flags & SS_ONSTACK, 0, "still on the alt stack");
}

static volatile int fp_ticks;

static void fp_handler(int sig)
{
	(void)sig;
	fp_ticks++;
	/* Garbage in every SSE register the interrupted loop may be using. */
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
			 "movdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\t"
			 "movdqa %%xmm0, %%xmm3\n\tmovdqa %%xmm0, %%xmm4\n\t"
			 "movdqa %%xmm0, %%xmm5\n\tmovdqa %%xmm0, %%xmm6\n\t"
			 "movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\t"
			 "movdqa %%xmm0, %%xmm9\n\tmovdqa %%xmm0, %%xmm10\n\t"
			 "movdqa %%xmm0, %%xmm11\n\tmovdqa %%xmm0, %%xmm12\n\t"
			 "movdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\t"
			 "movdqa %%xmm0, %%xmm15"
			 ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
			 "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			 "xmm12", "xmm13", "xmm14", "xmm15");
}

/* A loop whose state lives in SSE registers (no calls inside). */
static __attribute__((noinline)) double fp_loop(long n)
{
	double a = 0.0, b = 1.0;
	for (long i = 0; i < n; i++) {
		a += b * 1.0000001;
		b = b * 0.9999999 + 1e-7;
	}
	return a + b;
}

/* Timer signals interrupt the loop at arbitrary instructions; the handler
 * trashes the SSE registers; the result must be bit-identical to a run
 * without signals (the vmm saves and restores the guest's xsave area). */
Test(signals, fpu_state_survives_async_handlers, .timeout = 60)
{
	/* volatile: each call really runs (fp_loop is pure to the compiler). */
	volatile long n = 20000000;
	double want = fp_loop(n);
	enter_or_fail(test_mode());
	signal(SIGALRM, fp_handler);
	struct itimerval it = {{0, 2000}, {0, 2000}};
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	double got_v = 0;
	for (int round = 0; round < 20 && fp_ticks < 5; round++)
		got_v = fp_loop(n);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	cr_assert_geq(fp_ticks, 5, "only %d timer signals arrived", fp_ticks);
	cr_assert(memcmp(&got_v, &want, sizeof(want)) == 0,
		  "result %.17g, without signals %.17g", got_v, want);
}

Test(signals, default_action_terminates_like_native, .signal = SIGTERM)
{
	enter_or_fail(test_mode());
	kill(getpid(), SIGTERM);
	for (int i = 0; i < 100; i++)
		usleep(10000);
	cr_assert_fail("SIGTERM with the default action did not terminate");
}
