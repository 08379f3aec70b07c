/* bench/bench_enter.c: A2, the latency of dune_init() and of dune_enter(),
 * each measured by a fresh forked child on itself, and what the child's
 * exit costs afterwards (VM teardown) against a child that never entered. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "dune/dune.h"

#define CHILDREN 21

/* Shared with the children: when each called _exit (for the teardown). */
static volatile uint64_t *exit_stamp;

struct enter_sample {
	int init_ret, enter_ret, inside;
	uint64_t init_ns, enter_ns;
	struct bench_counts after_init, after_enter;
};

/* In the child: time both steps, report through fd, exit. */
static _Noreturn void child(int fd, int enter)
{
	struct enter_sample s;
	memset(&s, 0, sizeof(s));
	if (!enter) { /* the native reference: exit at once */
		ssize_t n = write(fd, &s, sizeof(s));
		*exit_stamp = bench_now_ns();
		_exit(n == (ssize_t)sizeof(s) ? 0 : 1);
	}
	uint64_t t0 = bench_now_ns();
	s.init_ret = dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	uint64_t t1 = bench_now_ns();
	bench_counts_read(&s.after_init);
	if (!s.init_ret) {
		uint64_t t2 = bench_now_ns();
		s.enter_ret = dune_enter();
		/* Read inside the guest through the vDSO: same clock. */
		uint64_t t3 = bench_now_ns();
		bench_counts_read(&s.after_enter);
		s.inside = bench_inside();
		s.enter_ns = t3 - t2;
	}
	s.init_ns = t1 - t0;
	ssize_t n = write(fd, &s, sizeof(s));
	*exit_stamp = bench_now_ns();
	_exit(n == (ssize_t)sizeof(s) ? 0 : 1);
}

/* Fork one child; *exit_us: from its _exit until waitpid returned. */
static int one(struct enter_sample *s, int enter, double *exit_us)
{
	int fd[2];
	if (pipe(fd))
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(fd[0]);
		child(fd[1], enter);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], s, sizeof(*s));
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	*exit_us = (double)(bench_now_ns() - *exit_stamp) / 1e3;
	if (n != (ssize_t)sizeof(*s))
		return -EIO;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -ECHILD;
	return 0;
}

int main(void)
{
	double init_us[CHILDREN], enter_us[CHILDREN], total_us[CHILDREN];
	double exit_nat[CHILDREN], exit_dune[CHILDREN], exit_ratio[CHILDREN];
	double junk;
	struct enter_sample s, ref;
	uint64_t exits_enter = 0, sys_enter = 0, exits_init = 0;
	int bad_ret = 0;
	exit_stamp = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (exit_stamp == MAP_FAILED) {
		perror("bench_enter: mmap");
		return 1;
	}
	/* Warm-up child: page cache, /dev/kvm module paths. */
	int r = one(&s, 1, &junk);
	for (int i = 0; !r && i < CHILDREN; i++) {
		/* A native child next to each dune child, order alternating. */
		if (i % 2 && (r = one(&ref, 0, &exit_nat[i])))
			break;
		if ((r = one(&s, 1, &exit_dune[i])))
			break;
		if (!(i % 2) && (r = one(&ref, 0, &exit_nat[i])))
			break;
		exit_ratio[i] = exit_dune[i] / exit_nat[i];
		if (s.init_ret) {
			fprintf(stderr, "bench_enter: dune_init: %s\n",
				strerror(-s.init_ret));
			return 1;
		}
		if (s.enter_ret || !s.inside)
			bad_ret++;
		init_us[i] = (double)s.init_ns / 1e3;
		enter_us[i] = (double)s.enter_ns / 1e3;
		total_us[i] = init_us[i] + enter_us[i];
		exits_init += s.after_init.exits;
		exits_enter += s.after_enter.exits - s.after_init.exits;
		sys_enter += s.after_enter.syscalls - s.after_init.syscalls;
	}
	if (r) {
		fprintf(stderr, "bench_enter: child failed: %s\n",
			strerror(-r));
		return 1;
	}
	char goal[96];
	snprintf(goal, sizeof(goal), "dune_enter returns 0 inside: %s",
		 bad_ret ? "NOT met" : "met");
	bench_csv_header(stdout);
	struct bench_row row = bench_row_init("dune_init", "dune", "us");
	bench_summarize(init_us, CHILDREN, &row.s);
	row.exits_per_op = (double)exits_init / CHILDREN;
	row.note = "one call per fresh forked child: open /dev/kvm; VM; "
		   "descriptor tables; page tables";
	bench_csv_row(stdout, &row);

	row = bench_row_init("dune_enter", "dune", "us");
	bench_summarize(enter_us, CHILDREN, &row.s);
	row.exits_per_op = (double)exits_enter / CHILDREN;
	row.syscalls_per_op = (double)sys_enter / CHILDREN;
	row.goal = goal;
	row.note = "until the first instruction inside (timed outside then "
		   "inside; same clock)";
	bench_csv_row(stdout, &row);

	row = bench_row_init("dune_init+enter", "dune", "us");
	bench_summarize(total_us, CHILDREN, &row.s);
	bench_csv_row(stdout, &row);

	row = bench_row_init("exit_teardown", "native", "us");
	bench_summarize(exit_nat, CHILDREN, &row.s);
	row.note = "forked child: from _exit until the parent's waitpid "
		   "returns";
	bench_csv_row(stdout, &row);

	row = bench_row_init("exit_teardown", "dune", "us");
	bench_summarize(exit_dune, CHILDREN, &row.s);
	row.ratio = bench_median(exit_ratio, CHILDREN);
	row.note = "same after dune_init+dune_enter (exit_group forwarded; "
		   "the VM is torn down by the host kernel)";
	bench_csv_row(stdout, &row);
	return bad_ret ? 1 : 0;
}
