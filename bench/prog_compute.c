/* bench/prog_compute.c: a compute-heavy program for `dune run`: the A3
 * kernels, sized once by `--calibrate SECONDS` (run natively) so that the
 * native and the dune runs do the same work. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--calibrate")) {
		/* Each kernel gets half of the time. */
		double s = atof(argv[2]) / 2;
		printf("%" PRIu64 " %" PRIu64 "\n",
		       kernel_calibrate(KERNEL_INT, s),
		       kernel_calibrate(KERNEL_FP, s));
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: prog_compute INT_ITERS FP_REPS\n"
				"       prog_compute --calibrate SECONDS\n");
		return 2;
	}
	uint64_t a = kernel_int(strtoull(argv[1], NULL, 10));
	uint64_t b = kernel_fp(strtoull(argv[2], NULL, 10));
	printf("%016" PRIx64 " %016" PRIx64 "\n", a, b);
	return 0;
}
