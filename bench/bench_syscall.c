/* bench/bench_syscall.c: A1, the cost of a forwarded syscall (getppid)
 * inside the guest against the same call natively and against one bare
 * exit (dune_exit_nop), with the exits and syscalls each one costs. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "dune/dune.h"

enum { OP_EXIT_NOP, OP_GETPPID };

#define ROUNDS 41          /* samples per variant */
#define GUEST_ITERS 400    /* ops per guest sample (~30 us each) */
#define NATIVE_ITERS 20000 /* ops per native sample (~0.1-0.3 us each) */
#define OVERHEAD_GOAL 20.0 /* percent */

static void serve(struct bench_msg *m)
{
	struct bench_counts a, b;
	bench_counts_read(&a);
	uint64_t t0 = bench_now_ns();
	if (m->op == OP_EXIT_NOP) {
		for (uint64_t i = 0; i < m->iters; i++)
			dune_exit_nop();
	} else {
		for (uint64_t i = 0; i < m->iters; i++)
			syscall(SYS_getppid);
	}
	m->ns = bench_now_ns() - t0;
	bench_counts_read(&b);
	bench_counts_sub(&m->d, &b, &a);
}

static double native_getppid(void)
{
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < NATIVE_ITERS; i++)
		syscall(SYS_getppid);
	return (double)(bench_now_ns() - t0) / NATIVE_ITERS;
}

static int guest_sample(struct bench_guest *g, int op, double *ns,
			struct bench_counts *tot)
{
	struct bench_msg m;
	memset(&m, 0, sizeof(m));
	m.op = op;
	m.iters = GUEST_ITERS;
	int r = bench_guest_call(g, &m);
	if (r)
		return r;
	*ns = (double)m.ns / GUEST_ITERS;
	tot->exits += m.d.exits;
	tot->syscalls += m.d.syscalls;
	tot->faults += m.d.faults;
	tot->monitor_ns += m.d.monitor_ns;
	return 0;
}

int main(void)
{
	static double nat[ROUNDS], fwd[ROUNDS], bare[ROUNDS], ratio[ROUNDS],
		ovh[ROUNDS];
	struct bench_counts cf = {0, 0, 0, 0}, cb = {0, 0, 0, 0};
	struct bench_guest g;
	int r = bench_guest_start(&g, serve);
	if (r) {
		fprintf(stderr, "bench_syscall: %s\n", strerror(-r));
		return 1;
	}
	/* Warm-up: first touches, page-table syncs, caches. */
	double d;
	struct bench_counts junk = {0, 0, 0, 0};
	native_getppid();
	if ((r = guest_sample(&g, OP_EXIT_NOP, &d, &junk)) ||
	    (r = guest_sample(&g, OP_GETPPID, &d, &junk)))
		goto fail;
	/* Interleaved rounds, order alternating, so drift hits all three. */
	for (int i = 0; i < ROUNDS; i++) {
		if (i % 2)
			nat[i] = native_getppid();
		if ((r = guest_sample(&g, OP_EXIT_NOP, &bare[i], &cb)) ||
		    (r = guest_sample(&g, OP_GETPPID, &fwd[i], &cf)))
			goto fail;
		if (!(i % 2))
			nat[i] = native_getppid();
		ratio[i] = fwd[i] / nat[i];
		ovh[i] = 100.0 * (fwd[i] - bare[i]) / bare[i];
	}
	bench_guest_stop(&g);

	double n_ops = (double)ROUNDS * GUEST_ITERS;
	double epf = (double)cf.exits / n_ops, spf = (double)cf.syscalls / n_ops;
	char goal_exit[96], goal_ovh[96], note[160];
	snprintf(goal_exit, sizeof(goal_exit),
		 "exactly 1 exit per forwarded syscall: %s",
		 cf.exits == (uint64_t)n_ops && cf.syscalls == (uint64_t)n_ops
			 ? "met" : "NOT met");
	double ovh_med = bench_median(ovh, ROUNDS);
	snprintf(goal_ovh, sizeof(goal_ovh), "<= %.0f%%: %s", OVERHEAD_GOAL,
		 ovh_med <= OVERHEAD_GOAL ? "met" : "NOT met");

	bench_csv_header(stdout);
	struct bench_row row = bench_row_init("syscall_getppid", "native", "ns");
	bench_summarize(nat, ROUNDS, &row.s);
	snprintf(note, sizeof(note), "syscall(SYS_getppid) x%d per sample",
		 NATIVE_ITERS);
	row.note = note;
	row.exits_per_op = 0;
	row.syscalls_per_op = 1;
	bench_csv_row(stdout, &row);

	row = bench_row_init("syscall_getppid", "dune", "ns");
	bench_summarize(fwd, ROUNDS, &row.s);
	row.ratio = bench_median(ratio, ROUNDS);
	row.exits_per_op = epf;
	row.syscalls_per_op = spf;
	row.faults_per_op = (double)cf.faults / n_ops;
	row.goal = goal_exit;
	snprintf(note, sizeof(note), "forwarded by the vmm; x%d per sample; "
		 "mode %s; in the vmm outside KVM_RUN %.0f ns/op", GUEST_ITERS,
		 g.mode == DUNE_MODE_RING0 ? "ring0" : "ring3",
		 (double)cf.monitor_ns / n_ops);
	row.note = note;
	bench_csv_row(stdout, &row);

	row = bench_row_init("exit_nop", "dune", "ns");
	bench_summarize(bare, ROUNDS, &row.s);
	row.exits_per_op = (double)cb.exits / n_ops;
	row.syscalls_per_op = (double)cb.syscalls / n_ops;
	row.faults_per_op = (double)cb.faults / n_ops;
	snprintf(note, sizeof(note), "dune_exit_nop(): one bare port-I/O exit; "
		 "the baseline; in the vmm outside KVM_RUN %.0f ns/op",
		 (double)cb.monitor_ns / n_ops);
	row.note = note;
	bench_csv_row(stdout, &row);

	row = bench_row_init("monitor_overhead", "dune", "%");
	bench_summarize(ovh, ROUNDS, &row.s);
	row.goal = goal_ovh;
	row.note = "(forwarded getppid - bare exit) / bare exit; paired rounds";
	bench_csv_row(stdout, &row);
	return 0;
fail:
	fprintf(stderr, "bench_syscall: guest child failed: %s\n",
		strerror(-r));
	bench_guest_stop(&g);
	return 1;
}
