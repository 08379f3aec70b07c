/* bench/counts.c: dune's exit/syscall/fault counters as deltas. */
#include "bench.h"
#include "dune/dune.h"

void bench_counts_read(struct bench_counts *c)
{
	struct dune_stats st;
	dune_get_stats(&st);
	c->exits = st.exits;
	c->syscalls = st.syscalls;
	c->faults = st.faults;
	c->monitor_ns = st.monitor_ns;
}

void bench_counts_sub(struct bench_counts *d, const struct bench_counts *b,
		      const struct bench_counts *a)
{
	d->exits = b->exits - a->exits;
	d->syscalls = b->syscalls - a->syscalls;
	d->faults = b->faults - a->faults;
	d->monitor_ns = b->monitor_ns - a->monitor_ns;
}

int bench_inside(void)
{
	struct bench_counts a, b;
	bench_counts_read(&a);
	int in = dune_is_inside();
	bench_counts_read(&b);
	return in && b.syscalls - a.syscalls == 1;
}
