/* tests/compat/progs/envfd.c: what a program sees of its start-up state.
 * usage: envfd env     argv, environment (in order), cwd, umask, rlimits,
 *                      process group, signal mask and dispositions
 *        envfd fds     the fd table: which low fds are free, what open()
 *                      returns, dup2 onto every low fd, close_range and
 *                      a closefrom loop (as daemons and spawn libraries do)
 *        envfd status  /proc/self/status lines a program may read
 *                      (Threads, SigQ, SigBlk, SigIgn, SigCgt)
 *        envfd userns  unshare(CLONE_NEWUSER), which Linux refuses to
 *                      multithreaded processes (container tools use it) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

static void show_fd_kind(int fd)
{
	struct stat st;
	if (fstat(fd, &st)) {
		printf("fd %d: closed\n", fd);
		return;
	}
	const char *k = S_ISREG(st.st_mode)	 ? "regular file"
			: S_ISCHR(st.st_mode)	 ? "character device"
			: S_ISFIFO(st.st_mode) ? "pipe"
			: S_ISSOCK(st.st_mode) ? "socket"
					       : "other";
	printf("fd %d: %s, flags %#x\n", fd, k, fcntl(fd, F_GETFL));
}

static int test_env(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (int i = 0; environ[i]; i++)
		printf("env %s\n", environ[i]);
	char cwd[4096];
	printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
	mode_t um = umask(0);
	printf("umask %03o\n", (unsigned)um);
	static const struct {
		int res;
		const char *name;
	} lims[] = {{RLIMIT_NOFILE, "NOFILE"}, {RLIMIT_STACK, "STACK"},
		    {RLIMIT_AS, "AS"},	       {RLIMIT_DATA, "DATA"},
		    {RLIMIT_CORE, "CORE"},     {RLIMIT_NPROC, "NPROC"},
		    {RLIMIT_MEMLOCK, "MEMLOCK"}, {RLIMIT_SIGPENDING, "SIGPENDING"}};
	for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
		struct rlimit rl;
		getrlimit(lims[i].res, &rl);
		printf("rlimit %s %lld %lld\n", lims[i].name,
		       (long long)rl.rlim_cur, (long long)rl.rlim_max);
	}
	printf("own process group: %d, session leader: %d\n",
	       getpgrp() == getpid(), getsid(0) == getpid());
	printf("personality %#x\n", personality(0xffffffff));
	sigset_t m;
	sigprocmask(SIG_SETMASK, NULL, &m);
	int nblocked = 0, nign = 0, ncaught = 0;
	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		nblocked += sigismember(&m, s) == 1;
		struct sigaction sa;
		if (sigaction(s, NULL, &sa))
			continue;
		nign += sa.sa_handler == SIG_IGN;
		ncaught += sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL;
	}
	printf("signals blocked %d ignored %d caught %d\n", nblocked, nign,
	       ncaught);
	for (int fd = 0; fd < 3; fd++)
		show_fd_kind(fd);
	return check_done("env");
}

static void list_open(const char *when)
{
	printf("%s: open fds below 64:", when);
	for (int fd = 0; fd < 64; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			printf(" %d", fd);
	printf("\n");
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	printf("%s: /proc/self/fd has %d entries (one is the listing)\n", when, n);
}

static int test_fds(void)
{
	list_open("start");
	int fd = open("/dev/null", O_RDONLY);
	printf("first open() returns %d\n", fd);
	close(fd);

	/* dup2 onto each low fd, use it, keep running. */
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	printf("pipe() returns %d %d\n", p[0], p[1]);
	for (int target = 3; target < 12; target++) {
		if (target == p[0] || target == p[1])
			continue;
		CHECK(dup2(p[1], target) == target, "dup2 %d", target);
		char b = (char)('a' + target);
		CHECK(write(target, &b, 1) == 1, "write %d", target);
		char r = 0;
		CHECK(read(p[0], &r, 1) == 1 && r == b, "read back %d", target);
		close(target);
		getpid();
	}
	printf("dup2 onto fds 3..11, write and read back: done\n");
	close(p[0]);
	close(p[1]);

	/* The top of the range is the program's too. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int top = (int)rl.rlim_cur - 1;
	int r = fcntl(0, F_DUPFD, top);
	printf("F_DUPFD(soft limit - 1): %s\n", r == top ? "ok" : strerror(errno));
	if (r >= 0)
		close(r);
	int count = 0, first = -1, last = -1;
	for (;;) {
		int f = open("/dev/null", O_RDONLY);
		if (f < 0)
			break;
		if (first < 0)
			first = f;
		last = f;
		count++;
	}
	printf("open() until %s: %d fds, %d..%d (soft limit %d)\n",
	       errno == EMFILE ? "EMFILE" : strerror(errno), count, first, last,
	       top + 1);

	/* A closefrom loop, then close_range: the process keeps working
	 * and can still fork and exec. */
	for (int i = 3; i < 1024; i++)
		close(i);
	printf("closed fds 3..1023 one by one\n");
	syscall(SYS_close_range, 3U, ~0U, 0U);
	printf("close_range(3, ~0)\n");
	list_open("after closing");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execl("/bin/echo", "echo", "child after close_range ok",
		      (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child status %d\n", WEXITSTATUS(st));
	return check_done("fds");
}

static int test_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Threads:", 8) || !strncmp(line, "Sig", 3) ||
		    !strncmp(line, "ShdPnd:", 7) || !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "Seccomp:", 8))
			fputs(line, stdout);
	}
	if (f)
		fclose(f);
	return check_done("status");
}

static int test_userns(void)
{
	errno = 0;
	int r = unshare(CLONE_NEWUSER);
	printf("unshare(CLONE_NEWUSER): %d %s\n", r, r ? strerrorname_np(errno) : "");
	return check_done("userns");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "env"))
		return test_env(argc, argv);
	if (argc == 2 && !strcmp(argv[1], "fds"))
		return test_fds();
	if (argc == 2 && !strcmp(argv[1], "status"))
		return test_status();
	if (argc == 2 && !strcmp(argv[1], "userns"))
		return test_userns();
	fputs("usage: envfd env [ARGS]|fds|status|userns\n", stderr);
	return 2;
}
