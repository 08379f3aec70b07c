/* bench/bench_compute.c: A3, compute-bound loops in the guest against the
 * same loops natively, interleaved round by round to cancel drift. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dune/dune.h"
#include "kernels.h"

#define ROUNDS 7        /* runs per variant and kernel */
#define SECONDS 0.5     /* target length of one run */
#define GOAL_PCT 3.0

static void serve(struct bench_msg *m)
{
	struct bench_counts a, b;
	bench_counts_read(&a);
	uint64_t t0 = bench_now_ns();
	m->result = kernel_run((enum kernel_id)m->op, m->iters);
	m->ns = bench_now_ns() - t0;
	bench_counts_read(&b);
	bench_counts_sub(&m->d, &b, &a);
}

static double native_run(enum kernel_id k, uint64_t iters, uint64_t *res)
{
	uint64_t t0 = bench_now_ns();
	*res = kernel_run(k, iters);
	return (double)(bench_now_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : ROUNDS;
	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: bench_compute [ROUNDS]\n");
		return 2;
	}
	uint64_t iters[KERNEL_COUNT];
	for (int k = 0; k < KERNEL_COUNT; k++)
		iters[k] = kernel_calibrate((enum kernel_id)k, SECONDS);

	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	if (r) {
		fprintf(stderr, "bench_compute: %s\n", strerror(-r));
		return 1;
	}
	double *nat = calloc((size_t)(KERNEL_COUNT * rounds), sizeof(double));
	double *gst = calloc((size_t)(KERNEL_COUNT * rounds), sizeof(double));
	double *ratio = calloc((size_t)(KERNEL_COUNT * rounds), sizeof(double));
	struct bench_counts tot[KERNEL_COUNT];
	int mismatch[KERNEL_COUNT];
	memset(tot, 0, sizeof(tot));
	memset(mismatch, 0, sizeof(mismatch));
	if (!nat || !gst || !ratio)
		return 1;
	/* Round -1 warms up both sides (not recorded). */
	for (int i = -1; i < rounds; i++) {
		for (int k = 0; k < KERNEL_COUNT; k++) {
			struct bench_msg m;
			uint64_t res = 0;
			double tn = 0;
			memset(&m, 0, sizeof(m));
			m.op = k;
			m.iters = iters[k];
			int native_first = (i + k) % 2 == 0;
			if (native_first)
				tn = native_run((enum kernel_id)k, iters[k], &res);
			if ((r = bench_guest_call(&g, &m))) {
				fprintf(stderr, "bench_compute: guest: %s\n",
					strerror(-r));
				bench_guest_stop(&g);
				return 1;
			}
			if (!native_first)
				tn = native_run((enum kernel_id)k, iters[k], &res);
			if (res != m.result)
				mismatch[k]++;
			if (i < 0)
				continue;
			int j = k * rounds + i;
			nat[j] = tn;
			gst[j] = (double)m.ns / 1e6;
			ratio[j] = gst[j] / nat[j];
			tot[k].exits += m.d.exits;
			tot[k].syscalls += m.d.syscalls;
			tot[k].faults += m.d.faults;
		}
	}
	bench_guest_stop(&g);

	bench_csv_header(stdout);
	int rc = 0;
	for (int k = 0; k < KERNEL_COUNT; k++) {
		char name[64], note[160], goal[96];
		snprintf(name, sizeof(name), "compute_%s", kernel_name[k]);
		snprintf(note, sizeof(note), "%llu iterations per run; "
			 "results %s", (unsigned long long)iters[k],
			 mismatch[k] ? "DIFFER" : "identical");
		struct bench_row row = bench_row_init(name, "native", "ms");
		bench_summarize(nat + k * rounds, rounds, &row.s);
		row.exits_per_op = 0;
		row.syscalls_per_op = 0;
		row.note = note;
		bench_csv_row(stdout, &row);

		double med = bench_median(ratio + k * rounds, rounds);
		int ok = fabs(med - 1.0) * 100.0 <= GOAL_PCT && !mismatch[k];
		snprintf(goal, sizeof(goal), "within %.0f%% of native: %s",
			 GOAL_PCT, ok ? "met" : "NOT met");
		double nat_min = row.s.min;
		row = bench_row_init(name, "dune", "ms");
		bench_summarize(gst + k * rounds, rounds, &row.s);
		/* Contention only adds time: the fastest runs are the
		 * least disturbed, a second estimate next to the median. */
		char dnote[160];
		snprintf(dnote, sizeof(dnote), "op = one run; ratio = median "
			 "of paired runs; ratio of minima %.4f",
			 row.s.min / nat_min);
		row.ratio = med;
		row.exits_per_op = (double)tot[k].exits / rounds;
		row.syscalls_per_op = (double)tot[k].syscalls / rounds;
		row.faults_per_op = (double)tot[k].faults / rounds;
		row.goal = goal;
		row.note = dnote;
		bench_csv_row(stdout, &row);
		rc |= mismatch[k] != 0;
	}
	free(nat);
	free(gst);
	free(ratio);
	return rc;
}
