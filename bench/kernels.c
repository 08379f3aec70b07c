/* bench/kernels.c: integer and floating-point compute loops (see
 * kernels.h); no syscalls, no allocation, no first touches of memory. */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "kernels.h"

const char *const kernel_name[KERNEL_COUNT] = {"int_hash", "fp_saxpy"};

__attribute__((noinline)) uint64_t kernel_int(uint64_t iters)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, h = 0;
	for (uint64_t i = 0; i < iters; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t z = x ^ (x >> 30);
		z *= 0xbf58476d1ce4e5b9ull;
		z ^= z >> 27;
		h = (h ^ z) * 0x94d049bb133111ebull;
		h ^= h >> 31;
	}
	return h;
}

#define FP_N 4096

__attribute__((noinline)) uint64_t kernel_fp(uint64_t reps)
{
	float x[FP_N], y[FP_N];
	for (int i = 0; i < FP_N; i++) {
		x[i] = (float)(i % 97) * 0.01f + 0.5f;
		y[i] = (float)(i % 13) * 0.1f;
	}
	for (uint64_t r = 0; r < reps; r++) {
		/* Converges to x: no overflow, no denormals. */
		for (int i = 0; i < FP_N; i++)
			y[i] = y[i] * 0.999f + x[i] * 0.001f;
		/* Keep the compiler from collapsing the passes. */
		__asm__ volatile("" ::"r"(y) : "memory");
	}
	double s = 0;
	for (int i = 0; i < FP_N; i++)
		s += y[i];
	uint64_t bits;
	memcpy(&bits, &s, sizeof(bits));
	return bits;
}

uint64_t kernel_run(enum kernel_id k, uint64_t iters)
{
	return k == KERNEL_INT ? kernel_int(iters) : kernel_fp(iters);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t kernel_calibrate(enum kernel_id k, double seconds)
{
	/* Grow until a run takes >= 100 ms, then scale; the best of 5
	 * guards against runs slowed by other work on the machine. */
	uint64_t n = k == KERNEL_INT ? 1u << 20 : 1u << 6;
	for (;;) {
		uint64_t best = UINT64_MAX;
		for (int i = 0; i < 5; i++) {
			uint64_t t0 = now_ns();
			kernel_run(k, n);
			uint64_t t = now_ns() - t0;
			best = t < best ? t : best;
		}
		if (best >= 100000000u) {
			double per = (double)best / (double)n;
			return (uint64_t)(seconds * 1e9 / per) + 1;
		}
		n *= 4;
	}
}
