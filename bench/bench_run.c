/* bench/bench_run.c: B, one whole program natively and under
 * `dune run --stats`, interleaved, with dune's exit/syscall counts parsed
 * from the stats line the program prints to stderr at exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 1000
#define OUT_MAX 65536

struct run_result {
	double wall_ns, user_ns, sys_ns;
	uint64_t exits, syscalls, faults, monitor_us;
	char out[OUT_MAX]; /* the program's stdout (to compare) */
};

static void usage(void)
{
	fputs("usage: bench_run --dune PATH --name NAME [--ops N] [--reps R] "
	      "[--op-name WORD] -- PROGRAM [ARGS...]\n"
	      "Times PROGRAM natively and under `PATH run --stats`, R rounds "
	      "(default 5)\ninterleaved, and prints CSV rows. With --ops N > 1 "
	      "times are per operation\n(whole run / N) in us, else per run "
	      "in ms.\n", stderr);
}

static int slurp(int fd, char *buf, size_t len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	size_t want = n < 0 ? 0 : (size_t)n < len - 1 ? (size_t)n : len - 1;
	ssize_t got = pread(fd, buf, want, 0);
	buf[got > 0 ? got : 0] = 0;
	return got < 0 ? -errno : 0;
}

/* Run argv once; dune != NULL runs it as `dune run --stats -- argv`. */
static int run_once(const char *dune, char **argv, struct run_result *res)
{
	static char err[OUT_MAX];
	int ofd = memfd_create("bench_stdout", MFD_CLOEXEC);
	int efd = memfd_create("bench_stderr", MFD_CLOEXEC);
	if (ofd < 0 || efd < 0)
		return -errno;
	int argc = 0;
	while (argv[argc])
		argc++;
	char **av = calloc((size_t)argc + 5, sizeof(*av));
	if (!av)
		return -ENOMEM;
	int j = 0;
	if (dune) {
		av[j++] = (char *)(uintptr_t)dune;
		static char run[] = "run", stats[] = "--stats", dd[] = "--";
		av[j++] = run;
		av[j++] = stats;
		av[j++] = dd;
	}
	for (int i = 0; i < argc; i++)
		av[j++] = argv[i];
	fflush(NULL);
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(ofd, 1) < 0 ||
		    dup2(efd, 2) < 0)
			_exit(126);
		execv(av[0], av);
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return -errno;
	res->wall_ns = (double)(bench_now_ns() - t0);
	res->user_ns = (double)ru.ru_utime.tv_sec * 1e9 +
		       (double)ru.ru_utime.tv_usec * 1e3;
	res->sys_ns = (double)ru.ru_stime.tv_sec * 1e9 +
		      (double)ru.ru_stime.tv_usec * 1e3;
	free(av);
	slurp(ofd, res->out, sizeof(res->out));
	slurp(efd, err, sizeof(err));
	close(ofd);
	close(efd);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench_run: %s%s exited with status %d%s:\n%s",
			dune ? "dune run " : "", argv[0],
			WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
			WIFSIGNALED(st) ? " (signal)" : "", err);
		return -ECHILD;
	}
	res->exits = res->syscalls = res->faults = res->monitor_us = 0;
	if (dune) {
		/* The last stats line wins (a program that execs prints
		 * one per image). */
		const char *p = NULL, *q = err;
		while ((q = strstr(q, "dune: stats: ")))
			p = q++;
		if (!p || sscanf(p, "dune: stats: exits=%" SCNu64
				    " syscalls=%" SCNu64 " faults=%" SCNu64,
				 &res->exits, &res->syscalls,
				 &res->faults) != 3) {
			fprintf(stderr, "bench_run: no 'dune: stats:' line "
					"from dune run %s; stderr was:\n%s",
				argv[0], err);
			return -EPROTO;
		}
		const char *m = strstr(p, "monitor_us=");
		if (m)
			sscanf(m, "monitor_us=%" SCNu64, &res->monitor_us);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *dune = NULL, *name = NULL, *op_name = "op";
	long ops = 1;
	int reps = 5, i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (i + 1 >= argc) {
			usage();
			return 2;
		}
		if (!strcmp(argv[i], "--dune"))
			dune = argv[++i];
		else if (!strcmp(argv[i], "--name"))
			name = argv[++i];
		else if (!strcmp(argv[i], "--ops"))
			ops = atol(argv[++i]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--op-name"))
			op_name = argv[++i];
		else {
			usage();
			return 2;
		}
	}
	if (!dune || !name || i >= argc || ops < 1 || reps < 1 ||
	    reps > MAX_REPS) {
		usage();
		return 2;
	}
	char **prog = argv + i;
	static struct run_result nat, dun;
	static double tn[MAX_REPS], td[MAX_REPS], ratio[MAX_REPS],
		un[MAX_REPS], sn[MAX_REPS], ud[MAX_REPS], sd[MAX_REPS],
		md[MAX_REPS];
	uint64_t exits = 0, sys = 0, faults = 0;
	int differ = 0, r;
	double scale = ops > 1 ? 1e3 * (double)ops : 1e6;
	for (int k = -1; k < reps; k++) { /* round -1: warm-up */
		int dune_first = (k + 2) % 2;
		if (dune_first && (r = run_once(dune, prog, &dun)))
			return 1;
		if ((r = run_once(NULL, prog, &nat)))
			return 1;
		if (!dune_first && (r = run_once(dune, prog, &dun)))
			return 1;
		differ |= strcmp(nat.out, dun.out) != 0;
		if (k < 0)
			continue;
		tn[k] = nat.wall_ns / scale;
		td[k] = dun.wall_ns / scale;
		ratio[k] = td[k] / tn[k];
		un[k] = nat.user_ns / 1e6;
		sn[k] = nat.sys_ns / 1e6;
		ud[k] = dun.user_ns / 1e6;
		sd[k] = dun.sys_ns / 1e6;
		md[k] = (double)dun.monitor_us / 1e3;
		exits += dun.exits;
		sys += dun.syscalls;
		faults += dun.faults;
	}
	const char *unit = ops > 1 ? "us" : "ms";
	char note[256], goal[96];
	double per = (double)reps * (double)ops;
	bench_csv_header(stdout);
	struct bench_row row = bench_row_init(name, "native", unit);
	bench_summarize(tn, reps, &row.s);
	if (ops > 1)
		snprintf(note, sizeof(note), "whole run / %ld %ss; per run: "
			 "user %.1f ms sys %.1f ms (medians)", ops, op_name,
			 bench_median(un, reps), bench_median(sn, reps));
	else
		snprintf(note, sizeof(note), "whole run; user %.1f ms sys "
			 "%.1f ms (medians)", bench_median(un, reps),
			 bench_median(sn, reps));
	row.note = note;
	bench_csv_row(stdout, &row);

	double nat_min = row.s.min;
	row = bench_row_init(name, "dune", unit);
	bench_summarize(td, reps, &row.s);
	row.ratio = bench_median(ratio, reps);
	row.exits_per_op = (double)exits / per;
	row.syscalls_per_op = (double)sys / per;
	row.faults_per_op = (double)faults / per;
	snprintf(goal, sizeof(goal), "same output as native: %s",
		 differ ? "NOT met" : "met");
	row.goal = goal;
	snprintf(note, sizeof(note), "dune run --stats; per run: user %.1f "
		 "ms sys %.1f ms monitor %.1f ms (medians); ratio of minima "
		 "%.4f", bench_median(ud, reps), bench_median(sd, reps),
		 bench_median(md, reps), row.s.min / nat_min);
	row.note = note;
	bench_csv_row(stdout, &row);
	return differ;
}
