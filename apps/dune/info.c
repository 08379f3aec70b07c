/* apps/dune/info.c: `dune info`: what this host's KVM is, what dune uses of
 * it, and what an exit and a guest fault cost here (measured now, in a
 * child process that enters the guest). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dune/dune.h"

struct costs {
	double exit_ns, fault_ns, syscall_ns, native_ns;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define REPS 7
#define ITERS 200

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static double time_native_getppid(void)
{
	double s[REPS];
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			syscall(SYS_getppid);
		s[r] = (double)(now_ns() - t0) / ITERS;
	}
	return median(s, REPS);
}

static void measure_inside(struct costs *c)
{
	double s[REPS];
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			dune_exit_nop();
		s[r] = (double)(now_ns() - t0) / ITERS;
	}
	c->exit_ns = median(s, REPS);
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			syscall(SYS_getppid);
		s[r] = (double)(now_ns() - t0) / ITERS;
	}
	c->syscall_ns = median(s, REPS);
	/* A guest #PF the vmm resolves: first touch of each 2 MiB chunk of a
	 * large reservation (mapped lazily, one fault per chunk). */
	size_t chunk = 2u << 20, n = ITERS;
	size_t len = 8ull << 30;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		c->err = errno;
		return;
	}
	for (int r = 0; r < REPS; r++) {
		char *base = p + (size_t)r * n * chunk % len;
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < n; i++)
			(void)*(volatile char *)(base + i * chunk);
		s[r] = (double)(now_ns() - t0) / (double)n;
	}
	c->fault_ns = median(s, REPS);
	munmap(p, len);
}

static int measure(struct costs *c)
{
	int fd[2];
	if (pipe(fd))
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct costs m;
		memset(&m, 0, sizeof(m));
		close(fd[0]);
		m.err = -dune_init_and_enter(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
		if (!m.err)
			measure_inside(&m);
		if (write(fd[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], c, sizeof(*c));
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (n != (ssize_t)sizeof(*c))
		return -EIO;
	return 0;
}

int cmd_info(int argc, char **argv)
{
	struct dune_host_info hi;
	int measure_costs = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-measure")) {
			measure_costs = 0;
		} else if (!strcmp(argv[i], "--help")) {
			puts("usage: dune info [--no-measure]");
			return 0;
		} else {
			fprintf(stderr, "dune info: unknown option '%s'\n",
				argv[i]);
			return 2;
		}
	}
	int r = dune_host_info(&hi);
	printf("cpu:              %s\n", hi.cpu);
	if (hi.hw_virt)
		printf("virtualization:   %s (%s flag)\n", hi.virt,
		       strcmp(hi.virt, "VT-x") ? "svm" : "vmx");
	else
		printf("virtualization:   none (no vmx/svm flag): a KVM here "
		       "is software KVM, which emulates guest ring 0\n");
	if (r) {
		/* Same message dune_init would give. */
		dune_init(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
		printf("kvm:              unusable: %s\n",
		       dune_strerror_detail());
		return 1;
	}
	printf("kvm:              API %d, %d memslots, %d vCPUs max, guest "
	       "phys %d bits, 1 GiB pages %s\n",
	       hi.api_version, hi.nr_memslots, hi.max_vcpus, hi.guest_phys_bits,
	       hi.gbpages ? "yes" : "no");
	const char *np = strcmp(hi.virt, "VT-x") ? "NPT" : "EPT";
	if (hi.tdp == 1)
		printf("paging:           nested paging (%s): the CPU walks the "
		       "guest's page tables, then KVM's memslot map\n",
		       np);
	else if (hi.tdp == 0)
		printf("paging:           shadow paging (%s is off): KVM "
		       "traps guest page-table writes; slower\n",
		       np);
	else
		printf("paging:           no kvm_intel/kvm_amd module: "
		       "KVM's own paging\n");
	printf("kvm features used: USER_MEMORY EXT_CPUID NR_MEMSLOTS "
	       "IMMEDIATE_EXIT XSAVE SYNC_REGS(regs,sregs) XCRS "
	       "VCPU_TSC_CTRL EXIT_ON_EMULATION_FAILURE(if present)\n");
	const char *env = getenv("DUNE_MODE");
	printf("mode:             %s (%s)\n", hi.hw_virt ? "ring0" : "ring3",
	       env && *env ? "DUNE_MODE is set: it overrides this"
			   : "auto; DUNE_MODE=ring0|ring3 overrides");
	printf("                  %s\n",
	       hi.hw_virt ? "the program runs at guest CPL0: it owns CR3, the "
			    "IDT and the page-fault handler (Dune's model)"
			  : "the program runs at guest CPL3; guestlib at CPL0 "
			    "does privileged work on its request (dune/vm.h)");
	if (!measure_costs)
		return 0;
	struct costs c;
	memset(&c, 0, sizeof(c));
	r = measure(&c);
	if (r || c.err) {
		printf("costs:            not measured: %s\n",
		       strerror(r ? -r : c.err));
		return 1;
	}
	printf("costs (median of %d x %d, this machine, now):\n", REPS, ITERS);
	printf("  one exit (dune_exit_nop: guest->vmm):   %8.1f us\n",
	       c.exit_ns / 1e3);
	printf("  forwarded getppid():                    %8.1f us\n",
	       c.syscall_ns / 1e3);
	printf("  native getppid():                       %8.3f us\n",
	       time_native_getppid() / 1e3);
	printf("  guest #PF resolved by the vmm:          %8.1f us\n",
	       c.fault_ns / 1e3);
	return 0;
}
