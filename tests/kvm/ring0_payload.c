/* tests/kvm/ring0_payload.c: the ring-0 payloads (see ring0_payload.h).
 * Built with -ffreestanding -mgeneral-regs-only -mno-red-zone
 * -fno-stack-protector -fno-builtin: nothing here may call libc. */
#include "ring0_payload.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "dune/abi.h"
#include "dune/dune.h"

#define ENOSYS_ 38
#define EBADF_ 9

static inline long sc3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static _Noreturn void finish(long code)
{
	for (;;)
		sc3(SYS_exit_group, code, 0, 0);
}

static inline unsigned cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3u;
}

/* Enter, and check we really are at CPL0. */
static void enter_ring0(void)
{
	if (dune_enter() != 0)
		finish(10);
	if (cpl() != 0)
		finish(11);
}

_Noreturn void r0_syscalls(const struct r0_args *a)
{
	static const char msg[] = "ring0 says hi";
	const long len = (long)sizeof(msg) - 1;
	char buf[32];

	enter_ring0();
	if (sc3(SYS_getpid, 0, 0, 0) != a->pid)
		finish(12);
	if (sc3(SYS_write, a->wfd, (long)msg, len) != len)
		finish(13);
	if (sc3(SYS_read, a->rfd, (long)buf, (long)sizeof(buf)) != len)
		finish(14);
	for (long i = 0; i < len; i++)
		if (buf[i] != msg[i])
			finish(15);
	if (sc3(SYS_close, -1, 0, 0) != -EBADF_)
		finish(16);
	if (cpl() != 0) /* still in ring 0 after the syscalls */
		finish(17);
	finish(R0_OK);
}

/* r0_load(addr) and r0_store(addr, v): one faulting instruction each,
 * with labels the handler recognises. r0_load returns -1 unless the
 * handler changed rax. */
uint64_t r0_load(uint64_t addr);
void r0_store(uint64_t addr, uint64_t v);
extern const char r0_load_insn[], r0_load_resume[];
extern const char r0_store_insn[], r0_store_resume[];
__asm__(".text\n"
	".globl r0_load, r0_load_insn, r0_load_resume\n"
	"r0_load:\n"
	"	movq $-1, %rax\n"
	"r0_load_insn:\n"
	"	movq (%rdi), %rax\n"
	"r0_load_resume:\n"
	"	ret\n"
	".globl r0_store, r0_store_insn, r0_store_resume\n"
	"r0_store:\n"
	"r0_store_insn:\n"
	"	movq %rsi, (%rdi)\n"
	"r0_store_resume:\n"
	"	ret\n");

#define PF_LOAD_MARK 0x5a5aull

static volatile uint64_t pf_count, pf_addr, pf_fec;

void r0_pgflt_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	pf_count++;
	pf_addr = addr;
	pf_fec = fec;
	if (tf->rip == (uint64_t)(uintptr_t)r0_load_insn) {
		tf->rip = (uint64_t)(uintptr_t)r0_load_resume;
		tf->rax = PF_LOAD_MARK;
	} else if (tf->rip == (uint64_t)(uintptr_t)r0_store_insn) {
		tf->rip = (uint64_t)(uintptr_t)r0_store_resume;
	} else {
		finish(30); /* a fault we did not expect */
	}
}

_Noreturn void r0_pagefault(void)
{
	const uint64_t kinds = DUNE_PF_P | DUNE_PF_W | DUNE_PF_U;
	enter_ring0();
	if (r0_load(R0_FAULT_VA) != PF_LOAD_MARK)
		finish(12);
	if (pf_count != 1)
		finish(13);
	if (pf_addr != R0_FAULT_VA)
		finish(14);
	if ((pf_fec & kinds) != 0) /* not present, read, supervisor */
		finish(15);
	r0_store(R0_FAULT_VA + 8, 1);
	if (pf_count != 2)
		finish(16);
	if (pf_addr != R0_FAULT_VA + 8)
		finish(17);
	if ((pf_fec & kinds) != DUNE_PF_W) /* not present, write, supervisor */
		finish(18);
	finish(R0_OK);
}

_Noreturn void r0_unhandled_fault(void)
{
	enter_ring0();
	r0_load(R0_FAULT_VA);
	finish(12); /* the fault was ignored */
}

static volatile uint64_t ud_count, ud_vec, ud_rip;

void r0_ud_handler(struct dune_tf *tf)
{
	ud_count++;
	ud_vec = tf->vec;
	ud_rip = tf->rip;
	tf->rip += 2; /* sizeof ud2 */
}

_Noreturn void r0_invalid_opcode(void)
{
	uint64_t at;
	enter_ring0();
	__asm__ volatile("lea 0f(%%rip), %0\n"
			 "0: ud2\n"
			 : "=r"(at)::"memory");
	if (ud_count != 1)
		finish(12);
	if (ud_vec != 6)
		finish(13);
	if (ud_rip != at)
		finish(14);
	finish(R0_OK);
}

static inline long hcall(long nr, long a0)
{
	long ret = nr;
	__asm__ volatile("outb %%al, %1"
			 : "+a"(ret)
			 : "i"(DUNE_PORT_HCALL), "D"(a0)
			 : "memory");
	return ret;
}

_Noreturn void r0_hypercalls(void)
{
	enter_ring0();
	if (hcall(99, 0) != -ENOSYS_)
		finish(12);
	if (hcall(DUNE_HC_NOP, 0) != 0)
		finish(13);
	if (hcall(-1, 0) != -ENOSYS_)
		finish(14);
	finish(R0_OK);
}

_Noreturn void r0_hc_exit(void)
{
	enter_ring0();
	hcall(DUNE_HC_EXIT, R0_HC_EXIT_CODE);
	finish(12); /* DUNE_HC_EXIT returned */
}
