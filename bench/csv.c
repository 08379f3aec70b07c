/* bench/csv.c: the one CSV schema every benchmark writes. */
#include <math.h>

#include "bench.h"

void bench_csv_header(FILE *f)
{
	fputs("benchmark,variant,n,median,p10,p90,min,max,unit,ratio,"
	      "exits_per_op,syscalls_per_op,faults_per_op,ring0_insns_per_op,"
	      "goal,note\n", f);
}

static void num(FILE *f, double x)
{
	if (isnan(x))
		fputs(",", f);
	else
		fprintf(f, "%.6g,", x);
}

/* A text field, then `end`. The schema has no quoting: a ',' becomes ';'
 * and a '"' becomes '\'', so every row keeps its 16 fields. */
static void text(FILE *f, const char *s, int end)
{
	for (; s && *s; s++)
		fputc(*s == ',' ? ';' : *s == '"' ? '\'' : *s, f);
	fputc(end, f);
}

void bench_csv_row(FILE *f, const struct bench_row *r)
{
	text(f, r->benchmark, ',');
	text(f, r->variant, ',');
	fprintf(f, "%d,", r->s.n);
	num(f, r->s.median);
	num(f, r->s.p10);
	num(f, r->s.p90);
	num(f, r->s.min);
	num(f, r->s.max);
	text(f, r->unit, ',');
	num(f, r->ratio);
	num(f, r->exits_per_op);
	num(f, r->syscalls_per_op);
	num(f, r->faults_per_op);
	num(f, r->ring0_insns_per_op);
	text(f, r->goal, ',');
	text(f, r->note, '\n');
	fflush(f);
}

struct bench_row bench_row_init(const char *benchmark, const char *variant,
				const char *unit)
{
	struct bench_row r = {
		.benchmark = benchmark,
		.variant = variant,
		.unit = unit,
		.s = {0, NAN, NAN, NAN, NAN, NAN},
		.ratio = NAN,
		.exits_per_op = NAN,
		.syscalls_per_op = NAN,
		.faults_per_op = NAN,
		.ring0_insns_per_op = NAN,
		.goal = "",
		.note = "",
	};
	return r;
}
