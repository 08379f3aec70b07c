/* tests/kvm/ring0_payload.h: freestanding payloads that run at guest CPL0
 * (DUNE_MODE_RING0). Each calls dune_enter() itself and ends the process
 * with a raw exit_group: R0_OK on success, else the number of the check
 * that failed (the test asserts the exit code). On software KVM every
 * ring-0 instruction is emulated (~1 us) and SSE faults: no libc here. */
#ifndef DUNE_TEST_RING0_PAYLOAD_H
#define DUNE_TEST_RING0_PAYLOAD_H

#include <stdint.h>

#include "dune/trap.h"

#define R0_OK 42
#define R0_HC_EXIT_CODE 43
/* Not mapped in the process (checked by the test) and 64-bit addressed:
 * this host's ring-0 emulator does not fault on 32-bit-addressed accesses
 * to page 0. */
/* Unmapped natively and under ASan (whose shadow covers 0x7fff8000 up to
 * 0x10007fff8000). */
#define R0_FAULT_VA 0x300000000000ull

struct r0_args {
	int wfd, rfd; /* a pipe */
	long pid;     /* getpid() outside, for comparison */
};

/* Raw `syscall`s: getpid, write to the pipe, read it back, a failing
 * close (-EBADF). */
_Noreturn void r0_syscalls(const struct r0_args *a);
/* A read and a write #PF at R0_FAULT_VA, resolved by r0_pgflt_handler
 * (registered by the test) advancing rip past the faulting instruction. */
_Noreturn void r0_pagefault(void);
void r0_pgflt_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf);
/* A #PF with no handler registered: the vmm turns it into SIGSEGV, which
 * (no guest handler) kills the process as natively. Never returns. */
_Noreturn void r0_unhandled_fault(void);
/* ud2 (#UD, vector 6) handled by r0_ud_handler (registered by the test
 * with dune_register_intr_handler), which skips the 2-byte instruction. */
_Noreturn void r0_invalid_opcode(void);
void r0_ud_handler(struct dune_tf *tf);
/* Hypercall 99 (unknown) returns -ENOSYS in rax; DUNE_HC_NOP returns 0. */
_Noreturn void r0_hypercalls(void);
/* Ends through DUNE_HC_EXIT with R0_HC_EXIT_CODE. */
_Noreturn void r0_hc_exit(void);

#endif
