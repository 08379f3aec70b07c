/* tests/progs/behave.c: a program whose exit is chosen by argv[1]; the
 * tests run it natively and under `dune run` and compare wait status and
 * stdout. One line is flushed before the end, one left in stdio's buffer
 * (a pipe: fully buffered), so a crash loses it exactly as natively. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read at run time, so the compiler cannot see (or "optimise") the fault. */
static volatile uintptr_t bad_addr = 0x10;

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	printf("behave: start %s argc=%d\n", how, argc);
	fflush(stdout);
	printf("behave: buffered line of %s\n", how);
	if (!strcmp(how, "exit0"))
		return 0;
	if (!strcmp(how, "exit3"))
		exit(3);
	if (!strcmp(how, "segv")) {
		*(volatile char *)bad_addr = 1;
		return 90; /* not reached */
	}
	if (!strcmp(how, "abort"))
		abort();
	fprintf(stderr, "usage: behave exit0|exit3|segv|abort\n");
	return 2;
}
