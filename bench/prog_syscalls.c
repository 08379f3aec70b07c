/* bench/prog_syscalls.c: a syscall-heavy program for `dune run`: N pairs
 * of a 1-byte write(2) and read(2) through a pipe to itself. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	int fd[2];
	if (n < 1) {
		fprintf(stderr, "usage: prog_syscalls [PAIRS]\n");
		return 2;
	}
	if (pipe(fd)) {
		perror("prog_syscalls: pipe");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		char c = (char)i, d = 0;
		if (write(fd[1], &c, 1) != 1 || read(fd[0], &d, 1) != 1 ||
		    d != c) {
			perror("prog_syscalls: write/read");
			return 1;
		}
	}
	return 0;
}
