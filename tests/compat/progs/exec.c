/* tests/compat/progs/exec.c: execve keeps the program under dune and
 * passes exactly what Linux passes: argv, envp, fds without FD_CLOEXEC (high numbers: low ones are the fds case),
 * ignored (not handled) signals, the signal mask, cwd, umask, a pending
 * alarm; #! scripts, fexecve, execve errors, exec from a threaded process.
 * usage: exec (the parent); exec child ... is the exec'd image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void on_usr2(int sig)
{
	(void)sig;
}

static int child(int argc, char **argv, char **envp)
{
	printf("child argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("  argv[%d]=\"%s\"\n", i, argv[i]);
	for (int i = 0; envp[i]; i++)
		printf("  envp[%d]=\"%s\"\n", i, envp[i]);
	char buf[64] = {0};
	ssize_t n = pread(50, buf, sizeof(buf) - 1, 0);
	printf("fd 50 (inherited): %s\n", n > 0 ? buf : strerror(errno));
	errno = 0;
	printf("fd 51 (cloexec): %s\n",
	       fcntl(51, F_GETFD) < 0 && errno == EBADF ? "closed" : "open");
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	printf("SIGUSR1 ignored: %d\n", sa.sa_handler == SIG_IGN);
	sigaction(SIGUSR2, NULL, &sa);
	printf("SIGUSR2 (was handled) now default: %d\n",
	       sa.sa_handler == SIG_DFL);
	sigset_t m;
	sigprocmask(SIG_SETMASK, NULL, &m);
	printf("SIGTERM blocked: %d\n", sigismember(&m, SIGTERM));
	char cwd[4096];
	printf("cwd ends with /sub: %d\n",
	       getcwd(cwd, sizeof(cwd)) && strlen(cwd) >= 4 &&
		       !strcmp(cwd + strlen(cwd) - 4, "/sub"));
	mode_t um = umask(0);
	printf("umask %03o\n", (unsigned)um);
	unsigned left = alarm(0);
	printf("alarm still pending: %d\n", left > 0 && left <= 1000);
	char exe[4096];
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	printf("/proc/self/exe is this program: %d\n",
	       n > 0 && (exe[n] = 0, strstr(exe, "exec") != NULL));
	return 0;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int run(const char *what, char *const argv[])
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execv(argv[0], argv);
		printf("execv %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("%s: %s %d\n", what, WIFEXITED(st) ? "exited" : "killed by",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return st;
}

int main(int argc, char **argv, char **envp)
{
	(void)envp;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child(argc, argv, envp);
	if (argc > 1 && !strcmp(argv[1], "threaded-child")) {
		printf("exec from a threaded process: new image runs, threads "
		       "left: %s\n", argv[2]);
		return 0;
	}

	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0, "readlink");
	self[n] = 0;

	/* Errors: the caller survives an execve that fails. */
	static char bad0[] = "/nonexistent/prog";
	char *bad[] = {bad0, NULL};
	errno = 0;
	execv(bad[0], bad);
	printf("execve missing: %s\n", errno == ENOENT ? "ENOENT" : strerror(errno));
	int fd = open("plain.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, "\x01\x02garbage\n", 10) == 10, "write");
	close(fd);
	static char p0[] = "./plain.txt";
	char *plain[] = {p0, NULL};
	errno = 0;
	execv(plain[0], plain);
	printf("execve non-executable: %s\n",
	       errno == EACCES ? "EACCES" : strerror(errno));
	chmod("plain.txt", 0755);
	errno = 0;
	execv(plain[0], plain);
	printf("execve garbage with x bit: %s\n",
	       errno == ENOEXEC ? "ENOEXEC" : strerror(errno));

	/* A #! script, with an argument on the #! line. */
	fd = open("script.sh", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	const char *s = "#!/bin/sh -e\necho \"script: $0 $# $*\"\nexit 4\n";
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write");
	close(fd);
	static char s0[] = "./script.sh", s1[] = "one", s2[] = "two words";
	char *sargv[] = {s0, s1, s2, NULL};
	run("#! script", sargv);

	/* fexecve and execveat(AT_EMPTY_PATH) of an fd. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		int efd = open("/bin/echo", O_RDONLY | O_CLOEXEC);
		static char e0[] = "echo", e1[] = "via fexecve";
		char *eargv[] = {e0, e1, NULL};
		fexecve(efd, eargv, envp);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("fexecve: exited %d\n", WEXITSTATUS(st));

	/* exec from a threaded process: the other threads go away. */
	c = fork();
	if (c == 0) {
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, sleeper, NULL);
		static char t1[] = "threaded-child", t2[] = "none";
		char *targv[] = {self, t1, t2, NULL};
		execv(self, targv);
		_exit(127);
	}
	waitpid(c, &st, 0);
	printf("threaded exec: exited %d\n", WEXITSTATUS(st));

	/* exec chain through a shell. */
	static char c0[] = "/bin/sh", c1[] = "-c",
		    c2[] = "exec /bin/sh -c 'exec /bin/echo chain of three'";
	char *cargv[] = {c0, c1, c2, NULL};
	run("exec chain", cargv);

	/* The state an exec'd image inherits. */
	fd = open("inherit.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, "inherited data", 14) == 14, "write");
	CHECK(dup2(fd, 50) == 50, "dup2");
	close(fd);
	fd = open("inherit.txt", O_RDONLY | O_CLOEXEC);
	CHECK(dup3(fd, 51, O_CLOEXEC) == 51, "dup3");
	close(fd);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, on_usr2);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGTERM);
	sigprocmask(SIG_BLOCK, &m, NULL);
	mkdir("sub", 0755);
	CHECK(chdir("sub") == 0, "chdir");
	umask(027);
	alarm(1000);
	static char a1[] = "child", a2[] = "", a3[] = "with space",
		    a4[] = "quote\"s", e0[] = "ONLY=this", e1[] = "EMPTY=",
		    e2[] = "NOEQUALS";
	char *nargv[] = {self, a1, a2, a3, a4, NULL};
	char *nenv[] = {e0, e1, e2, NULL};
	execve(self, nargv, nenv);
	printf("execve self: %s\n", strerror(errno));
	return 1;
}
