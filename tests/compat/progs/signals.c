/* tests/compat/progs/signals.c: signal delivery as the kernel does it.
 * usage: signals TEST, TEST one of
 *   siginfo   SA_SIGINFO fields (SI_USER, SI_TKILL, SI_QUEUE), masks during
 *             a handler, SA_RESETHAND, SA_NODEFER, the frame's ucontext
 *             (RIP, registers and xmm restored by sigreturn, edits honoured)
 *   sync      synchronous faults with handlers that fix up the ucontext:
 *             SIGFPE (FPE_INTDIV), SIGILL (ud2), SIGTRAP (int3), SIGSEGV
 *   bus       SIGBUS (BUS_ADRERR) from a file mapping beyond end of file
 *   timers    setitimer REAL/VIRTUAL/PROF, a timer_create timer with a
 *             sigev value, and a SIGALRM that must interrupt a guest spin
 *   tgkill    tgkill/pthread_kill to chosen threads (blocked and spinning),
 *             process-directed signal to the only thread not blocking it
 *   altstack  sigaltstack, SS_ONSTACK, stack overflow caught on the
 *             alternate stack and left with siglongjmp
 *   restart   SA_RESTART vs EINTR on a blocking pipe read; calls that never
 *             restart (nanosleep, select)
 *   rt        queued real-time signals: order, values, no coalescing;
 *             sigwaitinfo, sigtimedwait timeout, sigpending
 *   mask      signal masks: a sigwait thread with everyone else blocking,
 *             ppoll/pselect/sigsuspend temporary masks, pending signals
 *             kept across execve and dropped for fork children, SIG_IGN
 *             discarding a pending signal, per-thread masks
 *   selfuse   a program using signals for itself: SIGUSR1/2 ping-pong with
 *             a child, SIGCHLD reaping, signalfd, self-pipe, SIGPIPE */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *),
			int flags, const sigset_t *mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	if (mask)
		sa.sa_mask = *mask;
	else
		sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		CHECK(0, "sigaction %d: %s", sig, strerror(errno));
}

static int blocked_now(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	return sigismember(&cur, sig);
}

/* ---- siginfo ---------------------------------------------------------- */

static volatile sig_atomic_t h_count, h_code, h_pid, h_uid, h_val, h_self_blocked,
	h_mask_blocked, h_depth, h_max_depth, h_signo;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	h_count++;
	h_signo = si->si_signo;
	h_code = si->si_code;
	h_pid = si->si_pid;
	h_uid = (sig_atomic_t)si->si_uid;
	h_val = si->si_value.sival_int;
	h_self_blocked = blocked_now(sig);
	h_mask_blocked = blocked_now(SIGWINCH);
}

static void nodefer_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	h_depth++;
	if (h_depth > h_max_depth)
		h_max_depth = h_depth;
	if (h_depth < 3)
		raise(sig); /* with SA_NODEFER this nests immediately */
	h_depth--;
}

static void edit_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	/* Clobber what the interrupted code holds (sigreturn must restore
	 * it) and edit the saved state (sigreturn must honour the edits). */
	__asm__ volatile("pxor %%xmm7, %%xmm7\n\t"
			 "xor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\t"
			 "xor %%r10d, %%r10d\n\t"
			 "xor %%edx, %%edx" ::: "xmm7", "r8", "r9", "r10", "rdx");
	h_val = (sig_atomic_t)uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_R9] = 0x4242;
	sigaddset(&uc->uc_sigmask, SIGUSR2);
	h_count++;
}

static void test_siginfo(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGWINCH);
	set_handler(SIGUSR1, info_handler, 0, &m);

	kill(getpid(), SIGUSR1);
	printf("kill: count=%d signo=%d code=%s pid_ok=%d uid_ok=%d "
	       "self_blocked=%d sa_mask_blocked=%d blocked_after=%d\n",
	       h_count, h_signo, h_code == SI_USER ? "SI_USER" : "other",
	       h_pid == getpid(), h_uid == (sig_atomic_t)getuid(), h_self_blocked,
	       h_mask_blocked, blocked_now(SIGUSR1) || blocked_now(SIGWINCH));
	CHECK(h_count == 1 && h_code == SI_USER && h_pid == getpid(), "kill");
	CHECK(h_self_blocked && h_mask_blocked, "mask in handler");

	raise(SIGUSR1);
	printf("raise: count=%d code=%s\n", h_count,
	       h_code == SI_TKILL ? "SI_TKILL" : "other");
	CHECK(h_code == SI_TKILL, "raise code %d", h_code);

	union sigval v = {.sival_int = 1234};
	sigqueue(getpid(), SIGUSR1, v);
	printf("sigqueue: count=%d code=%s value=%d\n", h_count,
	       h_code == SI_QUEUE ? "SI_QUEUE" : "other", h_val);
	CHECK(h_code == SI_QUEUE && h_val == 1234, "sigqueue");

	/* SA_RESETHAND (on SIGWINCH, whose default action is harmless). */
	h_count = 0;
	set_handler(SIGWINCH, info_handler, SA_RESETHAND, NULL);
	raise(SIGWINCH);
	struct sigaction old;
	sigaction(SIGWINCH, NULL, &old);
	printf("resethand: count=%d reset_to_default=%d\n", h_count,
	       old.sa_handler == SIG_DFL);
	CHECK(old.sa_handler == SIG_DFL, "resethand");

	set_handler(SIGUSR2, nodefer_handler, SA_NODEFER, NULL);
	raise(SIGUSR2);
	printf("nodefer: max nesting %d\n", h_max_depth);
	CHECK(h_max_depth == 3, "nodefer %d", h_max_depth);

	/* The frame: registers and xmm7 survive the handler; the handler's
	 * edits of R9 and uc_sigmask take effect; saved RIP is right after
	 * the syscall instruction. */
	set_handler(SIGUSR1, edit_handler, 0, NULL);
	h_count = 0;
	uint64_t pat = 0x0123456789abcdefULL, xmm_out = 0, r8o = 0, r9o = 0,
		 r10o = 0, rdxo = 0, after = 0;
	long nr = SYS_kill;
	__asm__ volatile("movq %[pat], %%xmm7\n\t"
			 "mov %[pat], %%r8\n\t"
			 "mov %[pat], %%r9\n\t"
			 "mov %[pat], %%r10\n\t"
			 "mov %[pat], %%rdx\n\t"
			 "syscall\n\t"
			 "1: lea 1b(%%rip), %%rcx\n\t"
			 "mov %%rcx, %[after]\n\t"
			 "movq %%xmm7, %[x]\n\t"
			 "mov %%r8, %[r8o]\n\t"
			 "mov %%r9, %[r9o]\n\t"
			 "mov %%r10, %[r10o]\n\t"
			 "mov %%rdx, %[rdxo]\n\t"
			 : "+a"(nr), [x] "=m"(xmm_out), [r8o] "=m"(r8o),
			   [r9o] "=m"(r9o), [r10o] "=m"(r10o), [rdxo] "=m"(rdxo),
			   [after] "=m"(after)
			 : [pat] "r"(pat), "D"((long)getpid()), "S"((long)SIGUSR1)
			 : "rcx", "r11", "r8", "r9", "r10", "rdx", "xmm7",
			   "memory");
	printf("frame: handled=%d xmm7_kept=%d r8_kept=%d r10_kept=%d "
	       "rdx_kept=%d r9_edited=%d rip_ok=%d usr2_blocked_after=%d\n",
	       h_count, xmm_out == pat, r8o == pat, r10o == pat, rdxo == pat,
	       r9o == 0x4242, (uint32_t)h_val == (uint32_t)after,
	       blocked_now(SIGUSR2));
	CHECK(xmm_out == pat && r8o == pat && r10o == pat && rdxo == pat,
	      "registers not restored");
	CHECK(r9o == 0x4242, "edit of R9 ignored");
	CHECK((uint32_t)h_val == (uint32_t)after, "RIP");
	CHECK(blocked_now(SIGUSR2), "uc_sigmask edit ignored");
}

/* ---- sync ------------------------------------------------------------- */

static volatile sig_atomic_t s_code, s_signo;
static volatile uintptr_t s_addr, s_rip;
static int s_skip;

static void sync_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	s_signo = sig;
	s_code = si->si_code;
	s_addr = (uintptr_t)si->si_addr;
	s_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_RIP] += s_skip;
	uc->uc_mcontext.gregs[REG_RAX] = 77;
}

static const char *code_name(int sig, int code)
{
	if (sig == SIGFPE && code == FPE_INTDIV)
		return "FPE_INTDIV";
	if (sig == SIGILL && code == ILL_ILLOPN)
		return "ILL_ILLOPN";
	if (sig == SIGTRAP && code == SI_KERNEL)
		return "SI_KERNEL";
	if (sig == SIGBUS && code == BUS_ADRERR)
		return "BUS_ADRERR";
	if (sig == SIGSEGV && code == SEGV_MAPERR)
		return "SEGV_MAPERR";
	if (sig == SIGSEGV && code == SEGV_ACCERR)
		return "SEGV_ACCERR";
	static char b[16];
	snprintf(b, sizeof(b), "code%d", code);
	return b;
}

static void test_sync(void)
{
	set_handler(SIGFPE, sync_handler, 0, NULL);
	set_handler(SIGILL, sync_handler, 0, NULL);
	set_handler(SIGTRAP, sync_handler, 0, NULL);
	set_handler(SIGSEGV, sync_handler, 0, NULL);

	/* idiv %rcx is 3 bytes (48 f7 f9): skip it, result 77. */
	uintptr_t at;
	long rax = 10;
	s_skip = 3;
	__asm__ volatile("lea 1f(%%rip), %[at]\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "1: idiv %%rcx\n\t"
			 : "+a"(rax), [at] "=&r"(at)
			 :
			 : "rcx", "rdx");
	printf("divide by zero: %s %s addr_ok=%d rip_ok=%d result=%ld\n",
	       strsignal(s_signo), code_name(s_signo, s_code), s_addr == at,
	       s_rip == at, rax);
	CHECK(s_signo == SIGFPE && s_code == FPE_INTDIV && s_addr == at &&
	      rax == 77, "fpe");

	s_skip = 2;
	rax = 0;
	__asm__ volatile("lea 1f(%%rip), %[at]\n\t"
			 "1: ud2\n\t"
			 : "+a"(rax), [at] "=&r"(at));
	printf("ud2: %s %s addr_ok=%d result=%ld\n", strsignal(s_signo),
	       code_name(s_signo, s_code), s_addr == at, rax);
	CHECK(s_signo == SIGILL && s_code == ILL_ILLOPN && s_addr == at &&
	      rax == 77, "ill");

	s_skip = 0; /* int3 traps after the instruction */
	rax = 0;
	__asm__ volatile("lea 1f(%%rip), %[at]\n\t"
			 "int3\n\t"
			 "1: nop\n\t"
			 : "+a"(rax), [at] "=&r"(at));
	printf("int3: %s %s rip_after_int3=%d result=%ld\n",
	       strsignal(s_signo), code_name(s_signo, s_code), s_rip == at,
	       rax);
	CHECK(s_signo == SIGTRAP && s_rip == at && rax == 77, "trap");

	/* Unmapped address: SIGSEGV, SEGV_MAPERR, exact si_addr. */
	volatile char *q = (volatile char *)0x10008;
	s_skip = 3; /* movzbl (%rdx),%eax is 3 bytes: 0f b6 02 */
	rax = 0;
	__asm__ volatile("movzbl (%[q]), %%eax" : "+a"(rax) : [q] "d"(q));
	printf("unmapped: %s %s addr=%#lx result=%ld\n", strsignal(s_signo),
	       code_name(s_signo, s_code), (unsigned long)s_addr, rax);
	CHECK(s_signo == SIGSEGV && s_code == SEGV_MAPERR && s_addr == 0x10008,
	      "segv");
}

static void test_bus(void)
{
	set_handler(SIGBUS, sync_handler, 0, NULL);
	long rax;
	/* A shared file mapping beyond EOF: SIGBUS. */
	char path[] = "sigbus-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	CHECK(ftruncate(fd, 100) == 0, "ftruncate");
	char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap");
	volatile char *q = p + 2 * 4096 + 8;
	s_skip = 3; /* movzbl (%rdx),%eax is 3 bytes: 0f b6 02 */
	rax = 0;
	__asm__ volatile("movzbl (%[q]), %%eax" : "+a"(rax) : [q] "d"(q));
	printf("beyond EOF: %s %s addr_ok=%d first page reads %d\n",
	       strsignal(s_signo), code_name(s_signo, s_code),
	       s_addr == (uintptr_t)q, p[0]);
	CHECK(s_signo == SIGBUS && s_code == BUS_ADRERR &&
	      s_addr == (uintptr_t)q, "bus");
	munmap(p, 3 * 4096);
	close(fd);
}

/* ---- timers ----------------------------------------------------------- */

static volatile sig_atomic_t alrm, vtalrm, prof, tmr, tmr_val, tmr_code;

static void count_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGALRM)
		alrm++;
	else if (sig == SIGVTALRM)
		vtalrm++;
	else if (sig == SIGPROF)
		prof++;
	else {
		tmr++;
		tmr_val = si->si_value.sival_int;
		tmr_code = si->si_code;
	}
}

static void spin_until(volatile sig_atomic_t *flag, int n)
{
	while (*flag < n)
		; /* pure guest computation: no exits unless a signal comes */
}

static void test_timers(void)
{
	set_handler(SIGALRM, count_handler, SA_RESTART, NULL);
	set_handler(SIGVTALRM, count_handler, SA_RESTART, NULL);
	set_handler(SIGPROF, count_handler, SA_RESTART, NULL);
	set_handler(SIGRTMIN + 1, count_handler, SA_RESTART, NULL);

	struct itimerval it = {{0, 20000}, {0, 20000}};
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	while (alrm < 5)
		sigsuspend(&old);
	struct itimerval zero = {{0, 0}, {0, 0}}, left;
	setitimer(ITIMER_REAL, &zero, &left);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("ITIMER_REAL: 5 ticks via sigsuspend: %s\n",
	       alrm >= 5 ? "yes" : "no");

	alrm = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	spin_until(&alrm, 3);
	setitimer(ITIMER_REAL, &zero, NULL);
	printf("ITIMER_REAL: interrupted a spinning loop 3 times\n");

	setitimer(ITIMER_VIRTUAL, &it, NULL);
	spin_until(&vtalrm, 3);
	setitimer(ITIMER_VIRTUAL, &zero, NULL);
	printf("ITIMER_VIRTUAL: 3 ticks of user time\n");

	setitimer(ITIMER_PROF, &it, NULL);
	spin_until(&prof, 3);
	setitimer(ITIMER_PROF, &zero, NULL);
	printf("ITIMER_PROF: 3 ticks\n");

	timer_t t;
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = 99;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create");
	struct itimerspec its = {{0, 10000000}, {0, 10000000}};
	timer_settime(t, 0, &its, NULL);
	spin_until(&tmr, 2);
	timer_delete(t);
	printf("timer_create: value=%d code=%s\n", tmr_val,
	       tmr_code == SI_TIMER ? "SI_TIMER" : "other");
	CHECK(tmr_val == 99 && tmr_code == SI_TIMER, "posix timer");

	/* alarm(2) left over from a previous alarm(100): the remaining time */
	alarm(100);
	unsigned rem = alarm(0);
	printf("alarm remaining plausible: %d\n", rem >= 99 && rem <= 100);
}

/* ---- tgkill ----------------------------------------------------------- */

#define NT 4
static _Atomic pid_t t_tid[NT];
static _Atomic int t_got[NT], t_ready, t_stop;
static __thread int t_index = -1;
static _Atomic int wrong_thread;

static void tg_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (t_index < 0 || si->si_code != SI_TKILL)
		atomic_fetch_add(&wrong_thread, 1);
	else
		atomic_fetch_add(&t_got[t_index], 1);
}

static void *tg_thread(void *arg)
{
	t_index = (int)(intptr_t)arg;
	t_tid[t_index] = gettid_();
	atomic_fetch_add(&t_ready, 1);
	if (t_index == NT - 1) {
		while (!atomic_load(&t_stop))
			; /* spinning in the guest */
	} else {
		while (!atomic_load(&t_stop))
			usleep(1000);
	}
	return NULL;
}

static _Atomic int pd_got_by = -1;

static void pd_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	atomic_store(&pd_got_by, t_index);
}

static void *pd_thread(void *arg)
{
	(void)arg;
	t_index = 100;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	while (atomic_load(&pd_got_by) < 0)
		usleep(1000);
	return NULL;
}

static void test_tgkill(void)
{
	set_handler(SIGUSR1, tg_handler, SA_RESTART, NULL);
	pthread_t th[NT];
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, tg_thread, (void *)(intptr_t)i);
	while (atomic_load(&t_ready) < NT)
		usleep(1000);
	for (int i = 0; i < NT; i++) {
		int times = i + 1;
		for (int k = 0; k < times; k++) {
			if (i % 2)
				pthread_kill(th[i], SIGUSR1);
			else
				syscall(SYS_tgkill, getpid(), t_tid[i], SIGUSR1);
			/* wait for this one before the next: standard
			 * signals coalesce while pending */
			while (atomic_load(&t_got[i]) < k + 1)
				usleep(500);
		}
	}
	atomic_store(&t_stop, 1);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	printf("tgkill: per-thread counts");
	for (int i = 0; i < NT; i++)
		printf(" %d", atomic_load(&t_got[i]));
	printf(" (last thread was spinning), wrong=%d\n",
	       atomic_load(&wrong_thread));
	CHECK(atomic_load(&wrong_thread) == 0, "wrong thread");

	/* Process-directed: main blocks SIGUSR2, one thread does not. */
	set_handler(SIGUSR2, pd_handler, SA_RESTART, NULL);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	pthread_t pt;
	pthread_create(&pt, NULL, pd_thread, NULL);
	usleep(20000);
	kill(getpid(), SIGUSR2);
	pthread_join(pt, NULL);
	printf("process-directed SIGUSR2 handled by the unblocked thread: %d\n",
	       atomic_load(&pd_got_by) == 100);
	CHECK(atomic_load(&pd_got_by) == 100, "pd %d", atomic_load(&pd_got_by));

	/* A thread-directed signal whose default action is to terminate kills
	 * the whole process: checked by the crash cases. */
}

/* ---- altstack --------------------------------------------------------- */

static char *alt_base;
static size_t alt_size = 64 * 1024;
static volatile sig_atomic_t on_alt, ss_onstack, depth_reached;
static sigjmp_buf jb;

static void alt_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	char local;
	on_alt = &local >= alt_base && &local < alt_base + alt_size;
	stack_t cur;
	sigaltstack(NULL, &cur);
	ss_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
	if (sig == SIGSEGV)
		siglongjmp(jb, 1);
}

static volatile int recurse_limit = 1 << 30;

static int recurse(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	depth_reached = n;
	if (n > recurse_limit) /* never: keeps -Winfinite-recursion quiet */
		return 0;
	return recurse(n + 1) + pad[0];
}

static void test_altstack(void)
{
	alt_base = mmap(NULL, alt_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	set_handler(SIGUSR1, alt_handler, SA_ONSTACK, NULL);
	raise(SIGUSR1);
	printf("SA_ONSTACK handler: on alternate stack=%d SS_ONSTACK=%d\n",
	       on_alt, ss_onstack);
	CHECK(on_alt && ss_onstack, "altstack");
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("after return: SS_ONSTACK=%d size_ok=%d\n",
	       (cur.ss_flags & SS_ONSTACK) != 0, cur.ss_size == alt_size);

	set_handler(SIGUSR2, alt_handler, 0, NULL);
	raise(SIGUSR2);
	printf("handler without SA_ONSTACK: on alternate stack=%d\n", on_alt);
	CHECK(!on_alt, "no onstack");

	/* Stack overflow: only an alternate stack can run the handler. */
	set_handler(SIGSEGV, alt_handler, SA_ONSTACK, NULL);
	on_alt = 0;
	if (sigsetjmp(jb, 1) == 0) {
		recurse(0);
		printf("recursion returned?\n");
	}
	printf("stack overflow caught on the alternate stack=%d, deep=%d\n",
	       on_alt, depth_reached > 1000);
	CHECK(on_alt, "overflow not on altstack");
	ss.ss_flags = SS_DISABLE;
	CHECK(sigaltstack(&ss, NULL) == 0, "disable");
}

/* ---- restart ---------------------------------------------------------- */

static volatile sig_atomic_t r_count;

static void r_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	r_count++;
}

static int r_pipe[2];

static void *late_writer(void *arg)
{
	(void)arg;
	/* Only after the handler ran: the read must have been interrupted
	 * and restarted, however slow the machine. */
	while (r_count == 0)
		usleep(1000);
	usleep(20000);
	CHECK(write(r_pipe[1], "late", 4) == 4, "write");
	return NULL;
}

static void test_restart(void)
{
	CHECK(pipe(r_pipe) == 0, "pipe");
	struct itimerval once = {{0, 0}, {0, 50000}};
	char buf[16];

	set_handler(SIGALRM, r_handler, 0, NULL);
	setitimer(ITIMER_REAL, &once, NULL);
	errno = 0;
	ssize_t n = read(r_pipe[0], buf, sizeof(buf));
	printf("read without SA_RESTART: ret=%zd errno=%s handled=%d\n", n,
	       errno == EINTR ? "EINTR" : strerror(errno), r_count);
	CHECK(n == -1 && errno == EINTR, "eintr");

	set_handler(SIGALRM, r_handler, SA_RESTART, NULL);
	r_count = 0; /* before the writer starts: it waits for the handler */
	/* The writer thread must not take the process-directed SIGALRM. */
	sigset_t m, old;
	sigemptyset(&m);
	sigaddset(&m, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &m, &old);
	pthread_t th;
	pthread_create(&th, NULL, late_writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	setitimer(ITIMER_REAL, &once, NULL);
	n = read(r_pipe[0], buf, sizeof(buf));
	printf("read with SA_RESTART: ret=%zd data=%.*s handled=%d\n", n,
	       n > 0 ? (int)n : 0, buf, r_count);
	CHECK(n == 4 && r_count == 1, "restart");
	pthread_join(th, NULL);

	/* nanosleep is never restarted; it reports the time left. */
	r_count = 0;
	setitimer(ITIMER_REAL, &once, NULL);
	struct timespec req = {2, 0}, rem = {0, 0};
	int r = nanosleep(&req, &rem);
	printf("nanosleep with SA_RESTART: ret=%d errno=%s rem_ok=%d\n", r,
	       errno == EINTR ? "EINTR" : strerror(errno),
	       rem.tv_sec >= 1 && rem.tv_sec <= 2);
	CHECK(r == -1 && errno == EINTR, "nanosleep");

	setitimer(ITIMER_REAL, &once, NULL);
	fd_set rf;
	FD_ZERO(&rf);
	FD_SET(r_pipe[0], &rf);
	struct timeval tv = {2, 0};
	r = select(r_pipe[0] + 1, &rf, NULL, NULL, &tv);
	printf("select with SA_RESTART: ret=%d errno=%s\n", r,
	       errno == EINTR ? "EINTR" : strerror(errno));
	CHECK(r == -1 && errno == EINTR, "select");

	setitimer(ITIMER_REAL, &once, NULL);
	struct pollfd pfd = {.fd = r_pipe[0], .events = POLLIN};
	r = poll(&pfd, 1, 2000);
	printf("poll with SA_RESTART: ret=%d errno=%s\n", r,
	       errno == EINTR ? "EINTR" : strerror(errno));

	/* A blocking waitpid is restarted. */
	pid_t c = fork();
	if (c == 0) {
		usleep(150000);
		_exit(9);
	}
	setitimer(ITIMER_REAL, &once, NULL);
	int st = 0;
	pid_t w = waitpid(c, &st, 0);
	printf("waitpid with SA_RESTART: reaped=%d status=%d\n", w == c,
	       WEXITSTATUS(st));
	CHECK(w == c && WEXITSTATUS(st) == 9, "waitpid");
}

/* ---- rt --------------------------------------------------------------- */

static int order_sig[16], order_val[16], order_code[16];
static volatile sig_atomic_t norder;

static void rt_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (norder < 16) {
		order_sig[norder] = sig;
		order_val[norder] = si->si_code == SI_QUEUE ? si->si_value.sival_int
							     : -1;
		order_code[norder] = si->si_code;
		norder++;
	}
}

static const char *signame(int sig)
{
	static char b[32];
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(b, sizeof(b), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(b, sizeof(b), "%s", sigabbrev_np(sig));
	return b;
}

static void test_rt(void)
{
	int r0 = SIGRTMIN, r2 = SIGRTMIN + 2;
	sigset_t all, old;
	sigemptyset(&all);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, r0);
	sigaddset(&all, r2);
	/* Each handler blocks all three, so deliveries do not nest and the
	 * order is the kernel's pick order: lowest number first, FIFO. */
	set_handler(SIGUSR1, rt_handler, 0, &all);
	set_handler(r0, rt_handler, 0, &all);
	set_handler(r2, rt_handler, 0, &all);
	sigprocmask(SIG_BLOCK, &all, &old);
	int sends[][2] = {{r2, 20}, {SIGUSR1, 1}, {r0, 1}, {r2, 21},
			  {SIGUSR1, 2}, {r0, 2}, {r0, 3}};
	for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++) {
		union sigval v = {.sival_int = sends[i][1]};
		sigqueue(getpid(), sends[i][0], v);
	}
	sigset_t pend;
	sigpending(&pend);
	printf("pending: USR1=%d RTMIN=%d RTMIN+2=%d RTMIN+1=%d\n",
	       sigismember(&pend, SIGUSR1), sigismember(&pend, r0),
	       sigismember(&pend, r2), sigismember(&pend, SIGRTMIN + 1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("delivered %d:", norder);
	for (int i = 0; i < norder; i++)
		printf(" %s(%d)", signame(order_sig[i]), order_val[i]);
	printf("\n");
	CHECK(norder == 6, "count %d", norder); /* USR1 coalesced */

	/* sigwaitinfo: synchronous acceptance, same order rules. */
	sigprocmask(SIG_BLOCK, &all, &old);
	union sigval v = {.sival_int = 7};
	sigqueue(getpid(), r2, v);
	v.sival_int = 5;
	sigqueue(getpid(), r0, v);
	siginfo_t si;
	int s1 = sigwaitinfo(&all, &si);
	int v1 = si.si_value.sival_int;
	int s2 = sigwaitinfo(&all, &si);
	int v2 = si.si_value.sival_int;
	printf("sigwaitinfo: %s(%d)", signame(s1), v1);
	printf(" %s(%d)\n", signame(s2), v2);
	CHECK(s1 == r0 && v1 == 5 && s2 == r2 && v2 == 7, "sigwaitinfo");
	struct timespec ts = {0, 20000000};
	errno = 0;
	int r = sigtimedwait(&all, &si, &ts);
	printf("sigtimedwait on nothing: ret=%d errno=%s\n", r,
	       errno == EAGAIN ? "EAGAIN" : strerror(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---- mask ------------------------------------------------------------ */

static _Atomic int sw_got, sw_last;

static void *sigwait_thread(void *arg)
{
	const sigset_t *set = arg;
	for (int i = 0; i < 3; i++) {
		int sig;
		if (sigwait(set, &sig) == 0) {
			atomic_store(&sw_last, sig);
			atomic_fetch_add(&sw_got, 1);
		}
	}
	return NULL;
}

static volatile sig_atomic_t m_count;

static void m_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	m_count++;
}

static _Atomic int other_blocked = -1;

static void *mask_probe(void *arg)
{
	(void)arg;
	atomic_store(&other_blocked, blocked_now(SIGUSR2));
	return NULL;
}

static int exec_pending_child(void)
{
	sigset_t p;
	sigpending(&p);
	printf("after execve: SIGUSR2 pending=%d blocked=%d\n",
	       sigismember(&p, SIGUSR2), blocked_now(SIGUSR2));
	return 0;
}

static void test_mask(void)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	pthread_t th;
	pthread_create(&th, NULL, sigwait_thread, &set);
	for (int i = 0; i < 3; i++) {
		kill(getpid(), i == 2 ? SIGTERM : SIGUSR1);
		while (atomic_load(&sw_got) < i + 1)
			usleep(1000);
	}
	pthread_join(th, NULL);
	printf("sigwait thread: %d signals, last %s\n", atomic_load(&sw_got),
	       signame(atomic_load(&sw_last)));
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* Temporary masks: the pending signal is handled inside the call. */
	set_handler(SIGUSR1, m_handler, 0, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	struct timespec ts = {1, 0};
	errno = 0;
	int r = ppoll(&pfd, 1, &ts, &old);
	printf("ppoll with a mask unblocking a pending signal: ret=%d %s "
	       "handled=%d still blocked after=%d\n",
	       r, r < 0 ? strerrorname_np(errno) : "", m_count,
	       blocked_now(SIGUSR1));
	raise(SIGUSR1);
	fd_set rf;
	FD_ZERO(&rf);
	FD_SET(p[0], &rf);
	errno = 0;
	r = pselect(p[0] + 1, &rf, NULL, NULL, &ts, &old);
	printf("pselect likewise: ret=%d %s handled=%d\n", r,
	       r < 0 ? strerrorname_np(errno) : "", m_count);
	raise(SIGUSR1);
	r = sigsuspend(&old);
	printf("sigsuspend likewise: ret=%d handled=%d\n", r, m_count);

	/* SIG_IGN discards a pending signal; SIG_DFL of an ignored-by-default
	 * one too. */
	raise(SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	sigset_t pend;
	sigpending(&pend);
	printf("pending SIGUSR1 after SIG_IGN: %d\n", sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* Masks are per thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigset_t none;
	sigemptyset(&none);
	pthread_t t2;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setsigmask_np(&at, &none);
	pthread_create(&t2, &at, mask_probe, NULL);
	pthread_join(t2, NULL);
	printf("a thread created with an empty mask has SIGUSR2 blocked=%d; "
	       "main=%d\n", atomic_load(&other_blocked), blocked_now(SIGUSR2));

	/* Pending survives execve, not fork. SIGUSR2 blocked and pending. */
	raise(SIGUSR2);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		sigpending(&pend);
		printf("fork child: SIGUSR2 pending=%d blocked=%d\n",
		       sigismember(&pend, SIGUSR2), blocked_now(SIGUSR2));
		fflush(stdout);
		raise(SIGUSR2); /* pending now, across the execve */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			execl(self, "signals", "exec-pending-child", (char *)NULL);
		}
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child status %d\n", WEXITSTATUS(st));
	signal(SIGUSR2, SIG_IGN);
}

/* ---- selfuse ---------------------------------------------------------- */

static volatile sig_atomic_t got_usr, chld_reaped, chld_sum;

static void usr_handler(int sig)
{
	(void)sig;
	got_usr++;
}

static void chld_handler(int sig)
{
	(void)sig;
	int saved = errno, st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		chld_reaped++;
		chld_sum += WEXITSTATUS(st);
	}
	errno = saved;
}

static int selfpipe[2];

static void sp_handler(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(selfpipe[1], "x", 1) < 0)
		_exit(90);
	errno = saved;
}

static void test_selfuse(void)
{
	/* Ping-pong: parent and child take turns with SIGUSR1/SIGUSR2. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr_handler;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t m, old;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, &old);
	const int rounds = 100;
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < rounds; i++) {
			while (got_usr <= i)
				sigsuspend(&old);
			kill(parent, SIGUSR2);
		}
		_exit(got_usr == rounds ? 0 : 1);
	}
	for (int i = 0; i < rounds; i++) {
		kill(c, SIGUSR1);
		while (got_usr <= i)
			sigsuspend(&old);
	}
	int st;
	waitpid(c, &st, 0);
	printf("ping-pong: %d rounds, child status %d\n", got_usr,
	       WEXITSTATUS(st));
	CHECK(got_usr == rounds && st == 0, "ping-pong");
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* SIGCHLD handler reaping 20 children. */
	sa.sa_handler = chld_handler;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	for (int i = 0; i < 20; i++) {
		pid_t k = fork();
		if (k == 0)
			_exit(i);
	}
	while (chld_reaped < 20)
		usleep(1000);
	printf("SIGCHLD reaper: %d children, status sum %d\n", chld_reaped,
	       chld_sum);
	CHECK(chld_sum == 190, "sum");
	signal(SIGCHLD, SIG_DFL);

	/* signalfd */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	int sfd = signalfd(-1, &m, SFD_CLOEXEC);
	union sigval v = {.sival_int = 31};
	sigqueue(getpid(), SIGUSR1, v);
	struct signalfd_siginfo ssi;
	ssize_t n = read(sfd, &ssi, sizeof(ssi));
	printf("signalfd: read=%zd signo=%s value=%d code=%s\n", n,
	       signame((int)ssi.ssi_signo), ssi.ssi_int,
	       ssi.ssi_code == SI_QUEUE ? "SI_QUEUE" : "other");
	CHECK(n == sizeof(ssi) && ssi.ssi_signo == SIGUSR1 && ssi.ssi_int == 31,
	      "signalfd");
	close(sfd);
	sigprocmask(SIG_UNBLOCK, &m, NULL);

	/* Self-pipe trick driven by an interval timer. */
	CHECK(pipe2(selfpipe, O_CLOEXEC) == 0, "pipe");
	sa.sa_handler = sp_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 10000}, {0, 10000}};
	setitimer(ITIMER_REAL, &it, NULL);
	int ticks = 0;
	while (ticks < 5) {
		struct pollfd p = {.fd = selfpipe[0], .events = POLLIN};
		if (poll(&p, 1, -1) == 1) {
			char b;
			if (read(selfpipe[0], &b, 1) == 1)
				ticks++;
		}
	}
	struct itimerval zero = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &zero, NULL);
	printf("self-pipe: %d ticks\n", ticks);

	/* SIGPIPE: ignored gives EPIPE; default kills a child. */
	int pp[2];
	CHECK(pipe(pp) == 0, "pipe");
	close(pp[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	n = write(pp[1], "x", 1);
	printf("SIGPIPE ignored: write=%zd errno=%s\n", n,
	       errno == EPIPE ? "EPIPE" : strerror(errno));
	signal(SIGPIPE, SIG_DFL);
	c = fork();
	if (c == 0) {
		if (write(pp[1], "x", 1) < 0)
			_exit(3);
		_exit(4);
	}
	waitpid(c, &st, 0);
	printf("SIGPIPE default: child %s %d\n",
	       WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st)
							     ? WTERMSIG(st)
							     : WEXITSTATUS(st));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "sigpipe");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {{"siginfo", test_siginfo}, {"sync", test_sync}, {"bus", test_bus},
		     {"timers", test_timers},   {"tgkill", test_tgkill},
		     {"altstack", test_altstack}, {"restart", test_restart},
		     {"rt", test_rt}, {"mask", test_mask},           {"selfuse", test_selfuse}};
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "exec-pending-child"))
		return exec_pending_child();
	for (size_t i = 0; argc == 2 && i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (!strcmp(argv[1], tests[i].name)) {
			tests[i].fn();
			return check_done(argv[1]);
		}
	}
	fputs("usage: signals siginfo|sync|bus|timers|tgkill|altstack|restart|rt|"
	      "mask|selfuse\n", stderr);
	return 2;
}
