/* bench/kernels.h: the compute loops timed natively and in the guest (the
 * same machine code runs in both: the guest is a fork of the caller, and
 * prog_compute runs the same object file). */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

#include <stdint.h>

/* Integer: a 64-bit LCG feeding a splitmix-style hash, one dependent chain
 * (latency bound, ~1 ns per iteration). Returns a checksum. */
uint64_t kernel_int(uint64_t iters);

/* Floating point, SIMD-friendly: reps passes of y = y*a + x*b over two
 * 4096-float arrays on the stack (32 KiB, in L1/L2; auto-vectorized with
 * SSE2 at -O2/-O3). Returns the bits of the final sum as a checksum. */
uint64_t kernel_fp(uint64_t reps);

enum kernel_id { KERNEL_INT, KERNEL_FP, KERNEL_COUNT };
extern const char *const kernel_name[KERNEL_COUNT];
uint64_t kernel_run(enum kernel_id k, uint64_t iters);

/* The iteration count for which kernel k takes about seconds natively
 * (measured now, on this machine). */
uint64_t kernel_calibrate(enum kernel_id k, double seconds);

#endif /* BENCH_KERNELS_H */
