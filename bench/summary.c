/* bench/summary.c: median and percentiles of repeated samples. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank on sorted v: index round(p * (n - 1)). */
static double rank(const double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

void bench_summarize(double *v, int n, struct bench_summary *out)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	out->n = n;
	/* Even n: mean of the two middle samples. */
	out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out->p10 = rank(v, n, 0.10);
	out->p90 = rank(v, n, 0.90);
	out->min = v[0];
	out->max = v[n - 1];
}

double bench_median(const double *v, int n)
{
	double *c = malloc((size_t)n * sizeof(*c));
	struct bench_summary s;
	if (!c)
		abort();
	memcpy(c, v, (size_t)n * sizeof(*c));
	bench_summarize(c, n, &s);
	free(c);
	return s.median;
}
