/* bench/linuxmm.h: the Linux paths the privileged-API benchmarks compare
 * dune with: mprotect + SIGSEGV handler, userfaultfd (MISSING, WP with a
 * handler thread, WP_ASYNC), PAGEMAP_SCAN and soft-dirty bits. Also
 * bench_touch(), the one faulting instruction both sides time. */
#ifndef BENCH_LINUXMM_H
#define BENCH_LINUXMM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define BPG 4096ul

/* Write one byte to *p with a single instruction; a trap handler that
 * wants to skip it resumes at bench_touch_resume. */
void bench_touch(volatile char *p);
extern const char bench_touch_resume[];

/* ---- SIGSEGV ---------------------------------------------------------------
 * What the process's SIGSEGV handler does with a fault. */
enum segv_mode {
	SEGV_SKIP,   /* resume after the faulting bench_touch (trap only) */
	SEGV_UNPROT, /* mprotect(page, PROT_READ | PROT_WRITE) and retry */
};
/* Install the handler (SA_SIGINFO). 0 or -errno. */
int segv_install(void);
void segv_set_mode(enum segv_mode m);
/* Handler runs so far. */
uint64_t segv_count(void);

/* ---- userfaultfd -----------------------------------------------------------
 * One userfaultfd per registration; a single handler thread serves every
 * synchronous one (MISSING: UFFDIO_COPY of a zero page; WP: un-protect).
 * Asynchronous WP (UFFD_FEATURE_WP_ASYNC) needs no handler: the kernel
 * un-protects on write and PAGEMAP_SCAN reports and re-protects. */
enum uffd_kind { UFFD_MISSING, UFFD_WP, UFFD_WP_ASYNC };
struct uffd {
	int fd;
	enum uffd_kind kind;
	char *base;
	size_t len;
};
/* Create, negotiate features and register [base, base+len) (anonymous,
 * private). 0 or -errno (-ENOTSUP: the kernel lacks the feature). */
int uffd_open(struct uffd *u, enum uffd_kind kind, char *base, size_t len);
void uffd_close(struct uffd *u);
/* UFFDIO_WRITEPROTECT on [p, p+len): protect (wp=1) or un-protect. */
int uffd_wp(struct uffd *u, void *p, size_t len, int wp);
/* UFFDIO_COPY of a zero page to p (a missing page). */
int uffd_fill(struct uffd *u, void *p);
/* The handler thread for the synchronous ones (at most 4), pinned to the
 * calling thread's CPU, which is pinned there too: a blocked fault wakes
 * its handler without a cross-CPU wake-up. 0 or -errno. */
int uffd_start_handler(struct uffd *const *u, int n);
void uffd_stop_handler(void);
uint64_t uffd_handled(void);

/* ---- PAGEMAP_SCAN (Linux 6.7) -------------------------------------------
 * The written pages of [p, p+len) (a UFFD_WP_ASYNC registration) into
 * out[0..max) (page addresses), and with wp re-protect them in the same
 * call (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC). Returns the number
 * of pages or -errno. */
long pagemap_scan_written(void *p, size_t len, uintptr_t *out, size_t max,
			  int wp);

/* ---- soft-dirty ------------------------------------------------------------
 * echo 4 > /proc/self/clear_refs (the whole process), and the soft-dirty
 * pages (pagemap bit 55) of [p, p+len) into out[0..max). */
int softdirty_clear(void);
/* 1 if a write after softdirty_clear() sets bit 55 (the kernel has
 * CONFIG_MEM_SOFT_DIRTY), else 0. */
int softdirty_supported(void);
long softdirty_scan(void *p, size_t len, uintptr_t *out, size_t max);

#endif /* BENCH_LINUXMM_H */
