/* tests/compat/progs/cx.c: the compat runner's process launcher. Runs one
 * command in a clean, reproducible state (own process group, default signal
 * dispositions, empty signal mask, only fds 0-2, no core dumps) and records
 * its wait status, so the native and the `dune run` runs start alike.
 *
 * usage: cx -i IN -o OUT -e ERR -s STATUS [-t SECONDS] -- PROGRAM [ARGS]
 * STATUS gets "exit N", "signal N" (plus " core") or "timeout", then a
 * second line "ms N" with the wall time. cx itself exits 0 unless it could
 * not run at all (exit 2). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0644);
	if (f < 0) {
		fprintf(stderr, "cx: %s: %s\n", path, strerror(errno));
		_exit(2);
	}
	if (f != fd) {
		dup2(f, fd);
		close(f);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *in = "/dev/null", *out = NULL, *err = NULL, *st = NULL;
	unsigned secs = 120;
	int c;
	while ((c = getopt(argc, argv, "+i:o:e:s:t:")) != -1) {
		switch (c) {
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		case 's': st = optarg; break;
		case 't': secs = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!out || !err || !st || optind >= argc) {
		fputs("usage: cx -i IN -o OUT -e ERR -s STATUS [-t SECONDS] -- "
		      "PROGRAM [ARGS]\n", stderr);
		return 2;
	}
	FILE *sf = fopen(st, "w");
	if (!sf) {
		perror(st);
		return 2;
	}
	/* Core dumps off for both runs: the crash cases compare wait status
	 * and must not litter the tree or depend on core_pattern. */
	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
	/* The usual soft fd limit, whatever the caller had. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur > 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		setpgid(0, 0);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &sa, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		redirect(in, 0, O_RDONLY);
		redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execvp(argv[optind], argv + optind);
		int e = errno;
		fprintf(stderr, "cx: %s: %s\n", argv[optind], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid); /* either side may win the race; both set it */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(secs);
	int status = 0;
	pid_t w;
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
		if (timed_out) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
	}
	alarm(0);
	double t1 = now_ms();
	/* Reap the group: background jobs the command left behind. */
	kill(-pid, SIGKILL);
	if (w < 0)
		fprintf(sf, "waitpid-error %s\n", strerror(errno));
	else if (timed_out)
		fprintf(sf, "timeout after %us\n", secs);
	else if (WIFEXITED(status))
		fprintf(sf, "exit %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(sf, "signal %d%s\n", WTERMSIG(status),
			WCOREDUMP(status) ? " core" : "");
	else
		fprintf(sf, "status 0x%x\n", status);
	fprintf(sf, "ms %.0f\n", t1 - t0);
	fclose(sf);
	return 0;
}
