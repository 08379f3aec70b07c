/* tests/compat/progs/check.h: self-checks for the compat programs. A
 * program prints what it observed (the runner compares that with the
 * native run) and also checks it against what Linux guarantees, so a
 * broken program fails natively too instead of comparing garbage. */
#ifndef COMPAT_CHECK_H
#define COMPAT_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			check_failures++;                                     \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__,        \
			       #cond);                                        \
			printf(__VA_ARGS__);                                  \
			printf("\n");                                         \
			fflush(stdout);                                       \
		}                                                             \
	} while (0)

static inline int check_done(const char *what)
{
	printf("%s: %s\n", what, check_failures ? "FAILED" : "ok");
	return check_failures ? 1 : 0;
}
#endif
