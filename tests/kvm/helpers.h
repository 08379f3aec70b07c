/* tests/kvm/helpers.h: shared helpers of the KVM tests (fault catching,
 * /proc readers, running a program with its stdout captured). */
#ifndef DUNE_TEST_HELPERS_H
#define DUNE_TEST_HELPERS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The mode the KVM tests run in: DUNE_TEST_MODE ("ring0" or "ring3"; ctest
 * runs every KVM test binary once per mode), else the mode DUNE_MODE_AUTO
 * picks on this host. Ring 0 on a host without VT-x/AMD-V skips the test
 * with the reason (guest ring 0 is emulated there and cannot run libc; the
 * freestanding payloads of kvm_ring0 cover it). */
int test_mode(void);

/* Enter the guest in `mode` or fail the test with dune's own reason; then
 * assert_forwarding(). */
void enter_or_fail(int mode);

/* Fail unless a syscall made now is forwarded by the vmm (the stats
 * counter moves): proof of running inside that does not rely on
 * dune_is_inside(). Only meaningful while no other thread is inside and
 * making syscalls. */
void assert_forwarding(void);

/* Access *p (a read, or a write of one byte if `write`) with a SA_SIGINFO
 * handler for SIGSEGV and SIGBUS installed by the program itself (this is
 * the program's handler, seen through dune). Returns 0 if the access
 * completed, or the signal number with *si filled in if the handler ran
 * (it leaves with siglongjmp). */
int probe_access(volatile char *p, int write, siginfo_t *si);

/* Like probe_access, for an arbitrary instruction sequence. */
int probe_call(void (*fn)(void *), void *arg, siginfo_t *si);

/* Number of open file descriptors of this process (/proc/self/fd). */
int count_fds(void);

/* A "Name:  N kB" field of /proc/self/status, in KiB (-1 if missing). */
long status_kb(const char *name);

/* The host's protection of addr from /proc/self/maps: PROT_* bits, or -1
 * if unmapped. Reads into a static buffer without malloc (which might need
 * a new mapping, hence a memslot, at the memslot cap). */
int host_prot(const void *addr);

/* Run argv[0] (a path) with stdout captured, stderr inherited, no core
 * dumps and DUNE_* variables removed from its environment. Returns the
 * wait status; out receives at most cap bytes, *len the count. */
int run_capture(const char *const argv[], char *out, size_t cap,
		size_t *len);

#endif
