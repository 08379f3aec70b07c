/* tests/kvm/test_run.c: `dune run PROG` is invisible to PROG's parent: the
 * wait status (exit code or terminating signal) and stdout bytes equal
 * those of a native run of the same program. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dune/dune.h"
#include "helpers.h"

#ifndef DUNE_BIN
#error "DUNE_BIN (path of the dune executable) must be defined"
#endif
#ifndef BEHAVE_BIN
#error "BEHAVE_BIN (path of tests/progs/behave) must be defined"
#endif

struct outcome {
	int status;
	char out[4096];
	size_t len;
};

static void run_both(const char *how, struct outcome *native,
		     struct outcome *dune)
{
	const char *nat[] = {BEHAVE_BIN, how, NULL};
	const char *mode = test_mode() == DUNE_MODE_RING0 ? "ring0" : "ring3";
	const char *vm[] = {DUNE_BIN, "run",	  "--mode", mode, "--",
			    BEHAVE_BIN, how,	  NULL};
	cr_assert_eq(access(DUNE_BIN, X_OK), 0, "%s is not built", DUNE_BIN);
	native->status = run_capture(nat, native->out, sizeof(native->out),
				     &native->len);
	dune->status = run_capture(vm, dune->out, sizeof(dune->out), &dune->len);
}

static void describe(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "signal %d (%s)%s", WTERMSIG(st),
			 strsignal(WTERMSIG(st)), WCOREDUMP(st) ? " core" : "");
	else
		snprintf(buf, n, "status %#x", st);
}

/* Native and dune agree, and both are what `how` asks for. */
static void check(const char *how, int want_exit, int want_sig)
{
	static struct outcome n, d;
	char sn[64], sd[64];
	run_both(how, &n, &d);
	describe(n.status, sn, sizeof(sn));
	describe(d.status, sd, sizeof(sd));
	cr_assert_eq(n.status, d.status, "%s: native %s, under dune %s", how, sn,
		     sd);
	if (want_sig) {
		cr_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == want_sig,
			  "%s: want signal %d, got %s", how, want_sig, sd);
	} else {
		cr_assert(WIFEXITED(d.status) &&
				  WEXITSTATUS(d.status) == want_exit,
			  "%s: want exit %d, got %s", how, want_exit, sd);
	}
	cr_assert_eq(n.len, d.len,
		     "%s: stdout length native %zu, dune %zu\nnative: "
		     "%.*s\ndune: %.*s",
		     how, n.len, d.len, (int)n.len, n.out, (int)d.len, d.out);
	cr_assert(!memcmp(n.out, d.out, n.len),
		  "%s: stdout differs\nnative: %.*s\ndune: %.*s", how,
		  (int)n.len, n.out, (int)d.len, d.out);
	/* The program really printed (a run that died at once would agree
	 * with nothing). */
	char start[64];
	snprintf(start, sizeof(start), "behave: start %s argc=2\n", how);
	cr_assert(d.len >= strlen(start) && !memcmp(d.out, start, strlen(start)),
		  "%s: unexpected stdout: %.*s", how, (int)d.len, d.out);
}

Test(run, exit_0_same_as_native)
{
	check("exit0", 0, 0);
}

Test(run, exit_3_same_as_native)
{
	check("exit3", 3, 0);
}

Test(run, sigsegv_same_as_native)
{
	check("segv", 0, SIGSEGV);
}

Test(run, sigabrt_same_as_native)
{
	check("abort", 0, SIGABRT);
}

/* The comparison above would pass if `dune run` ran the program natively;
 * --stats (printed by the vmm at exit_group) proves it ran in the guest. */
Test(run, program_really_runs_in_the_guest)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 2);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		unsetenv("DUNE_MODE");
		execl(DUNE_BIN, DUNE_BIN, "run", "--stats", BEHAVE_BIN, "exit0",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[4096] = {0};
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(buf) - 1 &&
	       (k = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	const char *s = strstr(buf, "syscalls=");
	cr_assert_not_null(s, "no stats line on stderr: %s", buf);
	long nsys = strtol(s + 9, NULL, 10);
	/* printf, fflush and exit need a handful of forwarded syscalls. */
	cr_assert_geq(nsys, 3, "only %ld syscalls were forwarded: %s", nsys,
		      buf);
}
