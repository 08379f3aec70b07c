/* tests/compat/progs/forkwait.c: fork (each child its own VM under dune),
 * every kind of wait status, copy-on-write, pipes between processes,
 * vfork, posix_spawn, fork from a multithreaded process. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

static int cow_value = 1;

static void describe(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s%s\n", what, sigabbrev_np(WTERMSIG(st)),
		       WCOREDUMP(st) ? " (core)" : "");
	else if (WIFSTOPPED(st))
		printf("%s: stopped by %s\n", what, sigabbrev_np(WSTOPSIG(st)));
	else if (WIFCONTINUED(st))
		printf("%s: continued\n", what);
	else
		printf("%s: status %#x\n", what, st);
}

static _Atomic int spin_stop;
static volatile sig_atomic_t deathsig;

static void on_deathsig(int sig)
{
	(void)sig;
	deathsig = 1;
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spin_stop))
		usleep(100);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int st;
	pid_t me = getpid();

	/* Exit codes, in order of creation, reaped by pid. */
	pid_t kids[8];
	for (int i = 0; i < 8; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(i * 31 % 256);
	}
	for (int i = 0; i < 8; i++) {
		CHECK(waitpid(kids[i], &st, 0) == kids[i], "waitpid");
		char what[32];
		snprintf(what, sizeof(what), "child %d", i);
		describe(what, st);
	}

	/* Child identity and copy-on-write. */
	int pfd[2];
	CHECK(pipe(pfd) == 0, "pipe");
	pid_t c = fork();
	if (c == 0) {
		int ok = getppid() == me && getpid() != me && cow_value == 1;
		cow_value = 2;
		_exit(ok ? 0 : 1);
	}
	waitpid(c, &st, 0);
	describe("identity and copy-on-write child", st);
	printf("parent value after child wrote: %d\n", cow_value);

	/* Killed, aborted, stopped and continued. */
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	kill(c, SIGTERM);
	waitpid(c, &st, 0);
	describe("SIGTERM", st);

	c = fork();
	if (c == 0) {
		for (;;)
			; /* spinning in the guest */
	}
	usleep(20000);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	describe("SIGKILL while spinning", st);

	c = fork();
	if (c == 0)
		abort();
	waitpid(c, &st, 0);
	describe("abort", st);

	int go[2];
	CHECK(pipe(go) == 0, "pipe");
	c = fork();
	if (c == 0) {
		raise(SIGSTOP);
		char b; /* exit only after the parent saw "continued" */
		_exit(read(go[0], &b, 1) == 1 ? 3 : 4);
	}
	waitpid(c, &st, WUNTRACED);
	describe("WUNTRACED", st);
	kill(c, SIGCONT);
	waitpid(c, &st, WCONTINUED);
	describe("WCONTINUED", st);
	CHECK(write(go[1], "g", 1) == 1, "write");
	close(go[0]);
	close(go[1]);
	waitpid(c, &st, 0);
	describe("after SIGCONT", st);

	/* waitid, with a WNOWAIT peek first. */
	c = fork();
	if (c == 0)
		_exit(42);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT) == 0, "waitid");
	printf("waitid WNOWAIT: code=%s status=%d pid_ok=%d\n",
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status,
	       si.si_pid == c);
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0, "waitid");
	printf("waitid: status=%d\n", si.si_status);
	errno = 0;
	pid_t none = waitpid(-1, &st, 0);
	printf("no more children: waitpid=%d errno=%s\n", none,
	       errno == ECHILD ? "ECHILD" : strerror(errno));

	/* wait4 with rusage of a child that did some work. */
	c = fork();
	if (c == 0) {
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 20000000; i++)
			x += i;
		_exit(0);
	}
	struct rusage ru;
	CHECK(wait4(c, &st, 0, &ru) == c, "wait4");
	printf("wait4: user time > 0: %d\n",
	       ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0);

	/* A megabyte through a pipe to a child and a checksum back. */
	int back[2];
	CHECK(pipe(back) == 0, "pipe");
	c = fork();
	if (c == 0) {
		close(pfd[1]);
		close(back[0]);
		unsigned long sum = 0;
		unsigned char buf[8192];
		ssize_t n;
		while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				sum = sum * 31 + buf[i];
		if (write(back[1], &sum, sizeof(sum)) != sizeof(sum))
			_exit(1);
		_exit(0);
	}
	close(pfd[0]);
	close(back[1]);
	unsigned char buf[8192];
	unsigned long want = 0;
	for (int k = 0; k < 128; k++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			buf[i] = (unsigned char)(i * 7 + (size_t)k);
			want = want * 31 + buf[i];
		}
		CHECK(write(pfd[1], buf, sizeof(buf)) == sizeof(buf), "write");
	}
	close(pfd[1]);
	unsigned long got = 0;
	CHECK(read(back[0], &got, sizeof(got)) == sizeof(got), "read");
	waitpid(c, &st, 0);
	printf("pipe to child: checksum %s\n", got == want ? "matches" : "differs");
	close(back[0]);

	/* vfork: _exit and exec. */
	c = vfork();
	if (c == 0)
		_exit(5);
	waitpid(c, &st, 0);
	describe("vfork _exit", st);
	c = vfork();
	if (c == 0) {
		execl("/bin/sh", "sh", "-c", "exit 6", (char *)NULL);
		_exit(127);
	}
	waitpid(c, &st, 0);
	describe("vfork exec", st);

	/* posix_spawn with its output captured through a pipe. */
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	static char a0[] = "echo", a1[] = "spawned", a2[] = "ok";
	char *argv[] = {a0, a1, a2, NULL};
	int r = posix_spawnp(&c, "echo", &fa, NULL, argv, environ);
	CHECK(r == 0, "posix_spawnp: %s", strerror(r));
	close(out[1]);
	char line[64] = {0};
	ssize_t n = read(out[0], line, sizeof(line) - 1);
	waitpid(c, &st, 0);
	printf("posix_spawn: %.*s", n > 0 ? (int)n : 0, line);
	describe("posix_spawn", st);
	close(out[0]);

	/* SIGCHLD ignored: children are reaped by the kernel. */
	signal(SIGCHLD, SIG_IGN);
	c = fork();
	if (c == 0)
		_exit(3);
	errno = 0;
	pid_t w = waitpid(c, &st, 0);
	printf("SIGCHLD ignored: waitpid=%d %s\n", w, w < 0 ? strerrorname_np(errno) : "");
	signal(SIGCHLD, SIG_DFL);

	/* PR_SET_PDEATHSIG: the orphaned grandchild gets its signal. */
	int res[2], ready[2];
	CHECK(pipe(res) == 0 && pipe(ready) == 0, "pipe");
	c = fork();
	if (c == 0) {
		if (fork() == 0) {
			signal(SIGUSR1, on_deathsig);
			prctl(PR_SET_PDEATHSIG, SIGUSR1);
			if (write(ready[1], "r", 1) != 1)
				_exit(9);
			for (int i = 0; i < 5000 && !deathsig; i++)
				usleep(1000);
			_exit(write(res[1], deathsig ? "y" : "n", 1) == 1 ? 0 : 9);
		}
		char b;
		_exit(read(ready[0], &b, 1) == 1 ? 0 : 9);
	}
	waitpid(c, &st, 0);
	char heard = '?';
	CHECK(read(res[0], &heard, 1) == 1, "read");
	printf("PR_SET_PDEATHSIG reached the orphan: %c\n", heard);

	/* fork from a multithreaded process: the child has one thread. */
	pthread_t th;
	pthread_create(&th, NULL, spinner, NULL);
	c = fork();
	if (c == 0) {
		c = fork(); /* and a grandchild */
		if (c == 0)
			_exit(8);
		waitpid(c, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) + 1 : 1);
	}
	waitpid(c, &st, 0);
	describe("fork with threads, grandchild status + 1", st);
	atomic_store(&spin_stop, 1);
	pthread_join(th, NULL);
	return check_done("forkwait");
}
