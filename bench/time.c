/* bench/time.c: the harness clock (CLOCK_MONOTONIC; no PMU here). */
#define _GNU_SOURCE
#include <time.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
