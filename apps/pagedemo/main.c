/* apps/pagedemo/main.c: demand paging with dune/vspace.h. Enters dune,
 * makes an anonymous region larger than its frame budget, writes it,
 * reads it back sequentially and in random order (every byte checked),
 * rewrites random pages, and prints the pager's counters and throughput
 * per pass.
 *
 *   pagedemo [-s REGION_MiB] [-b BUDGET_MiB] [-r RANDOM_PAGES] [-2]
 *
 * -2 uses 2 MiB frames. Defaults: 256 MiB region, 32 MiB budget. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dune/dune.h"
#include "dune/vspace.h"

static uint64_t word_of(uint64_t page, uint64_t w, uint8_t gen)
{
	return (page * 0x9e3779b97f4a7c15ull) ^ (w << 8) ^ gen;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct ctx {
	struct vspace *vs;
	uint64_t *base;
	size_t pages, words; /* words per 4 KiB page */
	uint8_t *gen;
	struct vs_stats last;
	long errors;
};

static void write_page(struct ctx *c, size_t p)
{
	uint64_t *q = c->base + p * c->words;
	c->gen[p]++;
	for (size_t w = 0; w < c->words; w++)
		q[w] = word_of(p, w, c->gen[p]);
}

static void check_page(struct ctx *c, size_t p)
{
	const uint64_t *q = c->base + p * c->words;
	for (size_t w = 0; w < c->words; w++)
		if (q[w] != word_of(p, w, c->gen[p])) {
			if (c->errors++ < 5)
				fprintf(stderr,
					"pagedemo: page %zu word %zu: %#llx, "
					"want %#llx\n",
					p, w, (unsigned long long)q[w],
					(unsigned long long)word_of(p, w,
								    c->gen[p]));
			return;
		}
}

static void report(struct ctx *c, const char *what, size_t touched,
		   double secs)
{
	struct vs_stats s;
	vspace_stats(c->vs, &s);
	printf("%-16s %8zu pages %7.2f s %9.0f pages/s  faults %llu "
	       "evictions %llu writebacks %llu swap-ins %llu clean %llu "
	       "(%.0f faults/s)\n",
	       what, touched, secs, (double)touched / secs,
	       (unsigned long long)(s.faults - c->last.faults),
	       (unsigned long long)(s.evictions - c->last.evictions),
	       (unsigned long long)(s.writebacks - c->last.writebacks),
	       (unsigned long long)(s.swapins - c->last.swapins),
	       (unsigned long long)(s.clean_drops - c->last.clean_drops),
	       (double)(s.faults - c->last.faults) / secs);
	c->last = s;
}

int main(int argc, char **argv)
{
	size_t region_mb = 256, budget_mb = 32, nrand = 0;
	unsigned flags = VS_R | VS_W;
	int opt;
	while ((opt = getopt(argc, argv, "s:b:r:2h")) != -1) {
		switch (opt) {
		case 's':
			region_mb = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			budget_mb = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			nrand = strtoul(optarg, NULL, 0);
			break;
		case '2':
			flags |= VS_PAGE_2M;
			break;
		default:
			fprintf(stderr, "usage: pagedemo [-s REGION_MiB] "
					"[-b BUDGET_MiB] [-r RANDOM_PAGES] "
					"[-2]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!region_mb || !budget_mb || budget_mb > region_mb) {
		fprintf(stderr, "pagedemo: need 0 < budget <= region\n");
		return 2;
	}
	/* One cap per frame of the budget, plus page tables. */
	char slots[32];
	snprintf(slots, sizeof(slots), "%zu", budget_mb * 256 + 4096);
	setenv("DUNE_CAP_SLOTS", slots, 0);
	int r = dune_init_and_enter(DUNE_MODE_AUTO, 0);
	if (r) {
		fprintf(stderr, "pagedemo: dune: %s\n", strerror(-r));
		return 1;
	}
	struct ctx c = {0};
	r = vspace_create(0, &c.vs);
	if (r) {
		fprintf(stderr, "pagedemo: vspace_create: %s%s\n",
			strerror(-r),
			r == -ENOTSUP ? " (needs ring-3 mode: DUNE_MODE=ring3)"
				      : "");
		return 1;
	}
	struct vs_region_attr a = {.flags = flags,
				   .node = VS_NODE_LOCAL,
				   .budget = budget_mb << 20};
	struct vs_region *reg;
	r = vspace_region_create(c.vs, NULL, region_mb << 20, &a, &reg);
	if (r) {
		fprintf(stderr, "pagedemo: region: %s\n", strerror(-r));
		return 1;
	}
	c.base = vs_region_start(reg);
	c.words = 4096 / sizeof(uint64_t);
	c.pages = (region_mb << 20) / 4096;
	c.gen = calloc(c.pages, 1);
	if (!nrand)
		nrand = c.pages / 4;
	printf("pagedemo: %zu MiB region, %zu MiB budget, %s frames, "
	       "%zu pages of 4 KiB\n",
	       region_mb, budget_mb, flags & VS_PAGE_2M ? "2 MiB" : "4 KiB",
	       c.pages);

	double t = now();
	for (size_t p = 0; p < c.pages; p++)
		write_page(&c, p);
	report(&c, "seq write", c.pages, now() - t);

	t = now();
	for (size_t p = 0; p < c.pages; p++)
		check_page(&c, p);
	report(&c, "seq read", c.pages, now() - t);

	t = now();
	for (size_t k = 0; k < nrand; k++)
		check_page(&c, next_rand() % c.pages);
	report(&c, "random read", nrand, now() - t);

	t = now();
	for (size_t k = 0; k < nrand; k++) {
		size_t p = next_rand() % c.pages;
		check_page(&c, p);
		write_page(&c, p);
	}
	report(&c, "random rmw", nrand, now() - t);

	t = now();
	for (size_t p = 0; p < c.pages; p++)
		check_page(&c, p);
	report(&c, "seq verify", c.pages, now() - t);

	r = vspace_destroy(c.vs);
	printf("pagedemo: %s (%ld bad pages), destroy %d\n",
	       c.errors ? "FAILED" : "all bytes verified", c.errors, r);
	return c.errors || r ? 1 : 0;
}
