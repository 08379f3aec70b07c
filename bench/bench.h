/* bench/bench.h: the benchmark harness's shared helpers: clocks, summaries
 * of repeated samples, CSV rows, dune counters and a forked guest child. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- time.c: the clock ---------------------------------------------------
 * There is no PMU on the machines this runs on (perf counters are
 * <not supported>), so every time is CLOCK_MONOTONIC. Inside the guest it is
 * read through the vDSO (no exit; the guest TSC equals the host's), so a
 * time taken outside and one taken inside are comparable. */
uint64_t bench_now_ns(void);

/* ---- summary.c: order statistics of repeated samples -------------------- */
struct bench_summary {
	int n;
	double median, p10, p90, min, max;
};
/* Sorts v[0..n) in place. n >= 1. Percentiles are nearest-rank on the
 * sorted samples (with n = 5, p10 is the min and p90 the max). */
void bench_summarize(double *v, int n, struct bench_summary *out);
/* Median of n samples, leaving v untouched. n >= 1. */
double bench_median(const double *v, int n);

/* ---- csv.c: result rows --------------------------------------------------
 * One schema for every benchmark (bench/run.sh concatenates and tabulates):
 * benchmark,variant,n,median,p10,p90,min,max,unit,ratio,exits_per_op,
 * syscalls_per_op,faults_per_op,ring0_insns_per_op,goal,note
 * NAN fields are written empty. Text fields must not contain ',' or '"'. */
struct bench_row {
	const char *benchmark, *variant, *unit;
	struct bench_summary s;
	double ratio; /* dune/native, median of per-round ratios; NAN: none */
	double exits_per_op, syscalls_per_op, faults_per_op; /* NAN: n/a */
	double ring0_insns_per_op; /* guest ring-0 instructions (static
				      count along the path); NAN: n/a */
	const char *goal; /* "" or e.g. "exactly 1 exit per syscall: met" */
	const char *note;
};
void bench_csv_header(FILE *f);
void bench_csv_row(FILE *f, const struct bench_row *r);
/* A row with every optional field NAN/"" and the given identity. */
struct bench_row bench_row_init(const char *benchmark, const char *variant,
				const char *unit);

/* ---- counts.c: dune's machine-independent counters ---------------------- */
struct bench_counts {
	uint64_t exits, syscalls, faults;
	uint64_t monitor_ns; /* time in the vmm outside KVM_RUN */
};
/* dune_get_stats() of this process (all zero before dune_init). Costs no
 * exit, so it may bracket a timed loop. */
void bench_counts_read(struct bench_counts *c);
/* 1 if the calling thread is inside the guest: dune_is_inside() says so and
 * the syscall it makes was counted as forwarded (a check of the API that
 * does not trust the API alone; before commit a43c664 dune_is_inside()
 * read %cs, which software KVM shows as the host's 0x33 inside too). */
int bench_inside(void);
/* *d = b - a */
void bench_counts_sub(struct bench_counts *d, const struct bench_counts *b,
		      const struct bench_counts *a);

/* ---- guest.c: a forked child that entered the guest ----------------------
 * The child runs the same binary code as the parent: it is a fork. It
 * enters with dune_init_and_enter(DUNE_MODE_AUTO), then serves requests
 * from the parent one at a time, so the parent can interleave native and
 * guest runs of the same loop. While it waits it is blocked in a forwarded
 * read(2) and uses no CPU. */
struct bench_msg {
	int op;                  /* request: benchmark-defined, >= 0 */
	int err;                 /* reply: 0 or a positive errno */
	uint64_t iters;          /* request: loop count */
	uint64_t ns;             /* reply: time of the loop */
	uint64_t result;         /* reply: checksum of the loop, or data */
	struct bench_counts d;   /* reply: counter deltas over the loop */
};
/* Serve one request in the guest: read m->op and m->iters, fill the reply
 * fields. Runs inside the guest. */
typedef void (*bench_guest_fn)(struct bench_msg *m);
struct bench_guest {
	pid_t pid;
	int req_fd, resp_fd;
	int mode; /* enum dune_mode the child got */
};
/* Fork the child and wait until it is inside. 0, or -errno (the child's
 * dune_init/dune_enter error; the child printed the detail to stderr). */
int bench_guest_start(struct bench_guest *g, bench_guest_fn fn);
/* Send *m, wait for the reply into *m. 0 or -errno. */
int bench_guest_call(struct bench_guest *g, struct bench_msg *m);
/* Tell the child to exit and reap it. */
void bench_guest_stop(struct bench_guest *g);

#endif /* BENCH_H */
