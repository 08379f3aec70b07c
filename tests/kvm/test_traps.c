/* tests/kvm/test_traps.c: trap handlers (dune/trap.h) in ring-3 mode, where
 * guestlib's ring-0 stub upcalls them in ring 3 without a VM exit: page-
 * fault handlers that fix the fault (mprotect, map on demand), the Appel &
 * Li round, other vectors (#UD, #DE, #BP, #GP), a handler reading and
 * changing every register through the trap frame, zero exits per handled
 * trap, and the native signal again once a handler is removed. Ring-0
 * variants need VT-x/AMD-V. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dune/abi.h"
#include "dune/dune.h"
#include "dune/trap.h"
#include "dune/vm.h"
#include "helpers.h"
#include "vmtest.h"

/* The region the page-fault handlers own; any other fault makes them
 * step aside (unregister) so the vmm handles it as usual. */
static char *region;
static size_t region_len;
static volatile int pf_calls, pf_foreign, pf_errors;
static volatile uintptr_t pf_addr;
static volatile uint64_t pf_fec;
static struct dune_tf pf_tf;

static int ours(uintptr_t addr)
{
	if (addr >= (uintptr_t)region && addr < (uintptr_t)region + region_len)
		return 1;
	pf_foreign++;
	dune_register_pgflt_handler(NULL);
	return 0;
}

/* Appel & Li's handler: make the page read-write and resume. */
static void unprot_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	if (!ours(addr))
		return;
	pf_calls++;
	pf_addr = addr;
	pf_fec = fec;
	pf_tf = *tf;
	if (dune_vm_mprotect(NULL, (void *)(addr & ~(PG - 1)), PG, RW)) {
		pf_errors++;
		dune_register_pgflt_handler(NULL);
	}
}

/* Map a fresh page where the fault was. */
static void demand_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void)tf;
	if (!ours(addr))
		return;
	pf_calls++;
	pf_fec = fec;
	if (dune_vm_map_pages(NULL, (void *)(addr & ~(PG - 1)), PG, RW)) {
		pf_errors++;
		dune_register_pgflt_handler(NULL);
	}
}

static int app_cpl(int mode)
{
	return mode == DUNE_MODE_RING0 ? 0 : 3;
}

/* Every exit count is taken after one warm-up trap of the same kind: the
 * first run of a handler may touch memory the vmm maps lazily (under ASan,
 * the shadow of what it touches), which costs exits that are not the
 * trap's. */

/* ---- page faults ----------------------------------------------------------- */
static void write_fault_fixed_by_handler(int mode)
{
	enter_or_fail(mode);
	region_len = LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_vm_map_pages(NULL, region, 4 * PG, RO), 0);
	cr_assert_eq(dune_register_pgflt_handler(unprot_handler), 0);
	region[3 * PG] = 1; /* warm-up */
	volatile char *at = region + PG + 123;
	uint64_t x0 = exits_now();
	*at = 9;
	uint64_t x = exits_now() - x0;
	cr_assert_eq(pf_foreign, 0);
	cr_assert_eq(pf_errors, 0);
	cr_assert_eq(pf_calls, 2);
	cr_assert_eq(x, 0, "a handled fault cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(*at, 9);
	cr_assert_eq(pf_addr, (uintptr_t)at, "addr %#lx, want %p",
		     (unsigned long)pf_addr, (void *)(uintptr_t)at);
	uint64_t want = DUNE_PF_P | DUNE_PF_W | (mode == DUNE_MODE_RING0
						     ? 0 : DUNE_PF_U);
	cr_assert_eq(pf_fec & (DUNE_PF_P | DUNE_PF_W | DUNE_PF_U), want,
		     "fec %#llx", (unsigned long long)pf_fec);
	cr_assert_eq(pf_tf.vec, DUNE_VEC_PF);
	cr_assert_eq(pf_tf.err, pf_fec);
	cr_assert_eq(pf_tf.cs & 3, (uint64_t)app_cpl(mode));
	/* Only the faulting page changed. */
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	ptent_t *e;
	cr_assert_eq(dune_vm_lookup(NULL, region + 2 * PG, 0, &e), 0);
	cr_assert_eq(*e & DUNE_PTE_W, 0);
}

Test(traps, write_fault_fixed_by_handler)
{
	write_fault_fixed_by_handler(test_mode());
}

static void map_on_demand(int mode)
{
	enter_or_fail(mode);
	region_len = 2 * LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_register_pgflt_handler(demand_handler), 0);
	volatile char *v = region;
	unsigned sum = 0;
	v[LPG] = 1; /* warm-up */
	uint64_t x0 = exits_now();
	for (int i = 0; i < 64; i++) {
		sum += (unsigned char)v[i * 2 * PG + 5]; /* read: maps */
		v[i * 2 * PG + 6] = (char)i;		   /* no fault */
	}
	uint64_t x = exits_now() - x0;
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	cr_assert_eq(pf_foreign, 0);
	cr_assert_eq(pf_errors, 0);
	cr_assert_eq(pf_calls, 65);
	cr_assert_eq(x, 0, "64 handled faults cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(sum, 0, "fresh pages are zeroed");
	/* A read of a page that is not there: P and W clear. */
	cr_assert_eq(pf_fec & (DUNE_PF_P | DUNE_PF_W), 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(v[i * 2 * PG + 6], (char)i);
	/* Guest-only: the host reservation is untouched. */
	cr_assert_eq(host_prot(region), 0);
}

Test(traps, handler_maps_pages_on_demand)
{
	map_on_demand(test_mode());
}

/* A handler is ordinary C: it may use vector registers (libc does). The
 * faulting instruction re-executes with the state it had: here a 16-byte
 * (and, with AVX, a 32-byte) store from registers the handler clobbers. */
static void clobbering_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	char junk[512];
	memset(junk, 0x77, sizeof(junk)); /* libc: vector stores */
	__asm__ volatile("pcmpeqb %%xmm7, %%xmm7; pxor %%xmm0, %%xmm0"
			 ::: "xmm0", "xmm7", "memory");
	if (__builtin_cpu_supports("avx"))
		__asm__ volatile("vpcmpeqb %%ymm7, %%ymm7, %%ymm7" ::: "xmm7");
	demand_handler(addr, fec, tf);
	(void)junk;
}

Test(traps, vector_state_survives_a_handler)
{
	enter_or_fail(test_mode());
	region_len = LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_register_pgflt_handler(clobbering_handler), 0);
	unsigned char want[32], got[32];
	for (int i = 0; i < 32; i++)
		want[i] = (unsigned char)(i * 7 + 1);
	char *p = region;
	__asm__ volatile("movdqu (%0), %%xmm7; movdqu %%xmm7, (%1)"
			 ::"r"(want), "r"(p) : "xmm7", "memory");
	memcpy(got, p, 16);
	cr_assert_eq(memcmp(got, want, 16), 0, "xmm7 kept across the handler");
	if (__builtin_cpu_supports("avx")) {
		char *q = region + 2 * PG;
		__asm__ volatile("vmovdqu (%0), %%ymm7; vmovdqu %%ymm7, (%1); "
				 "vzeroupper"
				 ::"r"(want), "r"(q) : "xmm7", "memory");
		memcpy(got, q, 32);
		cr_assert_eq(memcmp(got, want, 32), 0,
			     "ymm7 (upper half too) kept across the handler");
	}
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	cr_assert_eq(pf_errors, 0);
}

Test(traps, appel_li_rounds_cost_no_exit)
{
	enter_or_fail(test_mode());
	region_len = LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_vm_map_pages(NULL, region, 100 * PG, RW), 0);
	cr_assert_eq(dune_register_pgflt_handler(unprot_handler), 0);
	volatile char *v = region;
	cr_assert_eq(dune_vm_mprotect(NULL, region, PG, RO), 0);
	v[0] = 0; /* warm-up */
	pf_calls = 0;
	uint64_t x0 = exits_now();
	/* appel1: prot1 + trap + unprot */
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(dune_vm_mprotect(NULL, region + i * PG, PG, RO), 0);
		v[i * PG] = (char)i;
	}
	/* appel2: protN, then a trap + unprot on each page */
	cr_assert_eq(dune_vm_mprotect(NULL, region, 100 * PG, RO), 0);
	for (int i = 0; i < 100; i++)
		v[i * PG + 1] = (char)i;
	uint64_t x = exits_now() - x0;
	cr_assert_eq(pf_foreign, 0);
	cr_assert_eq(pf_errors, 0);
	cr_assert_eq(pf_calls, 200);
	cr_assert_eq(x, 0, "200 Appel-Li traps cost %llu VM exits",
		     (unsigned long long)x);
	for (int i = 0; i < 100; i++)
		cr_assert(v[i * PG] == (char)i && v[i * PG + 1] == (char)i);
}

/* ---- without a handler: native signals ------------------------------------- */
static sigjmp_buf sig_jmp;
static siginfo_t sig_info;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	sig_info = *si;
	siglongjmp(sig_jmp, 1);
}

/* Run fn with a SA_SIGINFO handler for sig: 0 if it returned, else sig. */
static int catching(int sig, void (*fn)(void))
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(sig, &sa, &old), 0);
	volatile int got = 0;
	memset(&sig_info, 0, sizeof(sig_info));
	if (sigsetjmp(sig_jmp, 1) == 0)
		fn();
	else
		got = sig_info.si_signo;
	sigaction(sig, &old, NULL);
	return got;
}

Test(traps, unhandled_fault_after_removal_is_native_sigsegv,
     .signal = SIGSEGV)
{
	enter_or_fail(test_mode());
	region_len = LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_vm_map_pages(NULL, region, PG, RO), 0);
	cr_assert_eq(dune_register_pgflt_handler(unprot_handler), 0);
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	*(volatile char *)region = 1;
	cr_assert_fail("a write to a read-only page did not kill the process");
}

Test(traps, unhandled_fault_after_removal_reaches_sigaction)
{
	enter_or_fail(test_mode());
	region_len = LPG;
	region = reserve(region_len);
	cr_assert_eq(dune_vm_map_pages(NULL, region, PG, RO), 0);
	cr_assert_eq(dune_register_pgflt_handler(unprot_handler), 0);
	*(volatile char *)region = 1; /* handled */
	cr_assert_eq(pf_calls, 1);
	cr_assert_eq(dune_vm_mprotect(NULL, region, PG, RO), 0);
	cr_assert_eq(dune_register_pgflt_handler(NULL), 0);
	siginfo_t si;
	cr_assert_eq(probe_access(region + 5, 1, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)(region + 5));
	cr_assert_eq(si.si_code, SEGV_ACCERR);
	cr_assert_eq(pf_calls, 1, "the removed handler ran");
	/* The process's own memory: the host's protection decides. */
	char *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(probe_access(p, 1, &si), SIGSEGV);
	cr_assert_eq(si.si_addr, (void *)p);
}

/* ---- other vectors --------------------------------------------------------- */
static volatile int vec_calls;
static struct dune_tf vec_tf;

static void ud_skip(struct dune_tf *tf)
{
	vec_calls++;
	vec_tf = *tf;
	tf->rip += 2; /* ud2 */
}

static void do_ud2(void)
{
	__asm__ volatile("ud2");
}

static void ud_handler_advances_rip(int mode)
{
	enter_or_fail(mode);
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_UD, ud_skip), 0);
	do_ud2(); /* warm-up */
	vec_calls = 0;
	uint64_t x0 = exits_now();
	for (int i = 0; i < 10; i++)
		do_ud2();
	uint64_t x = exits_now() - x0;
	cr_assert_eq(vec_calls, 10);
	cr_assert_eq(x, 0, "10 handled #UD cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(vec_tf.vec, DUNE_VEC_UD);
	cr_assert_eq(vec_tf.err, 0);
	cr_assert_eq(vec_tf.cs & 3, (uint64_t)app_cpl(mode));
	/* guestlib's own privileged requests (a ud2 too) are not upcalled. */
	dune_flush_tlb();
	dune_flush_tlb_one((uintptr_t)&x);
	cr_assert_eq(vec_calls, 10, "a TLB flush reached the #UD handler");
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_UD, NULL), 0);
	cr_assert_eq(catching(SIGILL, do_ud2), SIGILL);
	cr_assert_eq(sig_info.si_code, ILL_ILLOPN);
	cr_assert_eq(vec_calls, 10);
}

Test(traps, ud_handler_advances_rip)
{
	ud_handler_advances_rip(test_mode());
}

static void de_fix_divisor(struct dune_tf *tf)
{
	vec_calls++;
	vec_tf = *tf;
	tf->rcx = 7; /* the divisor: the division is executed again */
}

static uint64_t divide(uint64_t n, uint64_t d, uint64_t *rem, uint64_t *dout)
{
	uint64_t hi = 0;
	__asm__ volatile("divq %[d]" : "+a"(n), "+d"(hi), [d] "+c"(d));
	*rem = hi;
	*dout = d;
	return n;
}

static void divide_by_zero(void)
{
	uint64_t rem, d;
	(void)divide(100, 0, &rem, &d);
}

Test(traps, de_handler_changes_the_divisor)
{
	enter_or_fail(test_mode());
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_DE, de_fix_divisor), 0);
	uint64_t rem, d;
	(void)divide(1, 0, &rem, &d); /* warm-up */
	uint64_t x0 = exits_now();
	uint64_t q = divide(100, 0, &rem, &d);
	uint64_t x = exits_now() - x0;
	cr_assert_eq(vec_calls, 2);
	cr_assert_eq(x, 0, "a handled #DE cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(vec_tf.vec, DUNE_VEC_DE);
	cr_assert_eq(vec_tf.rcx, 0);
	cr_assert_eq(vec_tf.rax, 100);
	cr_assert_eq(q, 14);
	cr_assert_eq(rem, 2);
	cr_assert_eq(d, 7);
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_DE, NULL), 0);
	cr_assert_eq(catching(SIGFPE, divide_by_zero), SIGFPE);
	cr_assert_eq(sig_info.si_code, FPE_INTDIV);
}

static void bp_count(struct dune_tf *tf)
{
	vec_calls++;
	vec_tf = *tf;
}

static uint64_t breakpoint(void)
{
	uint64_t after;
	__asm__ volatile("leaq 1f(%%rip), %0\n\tint3\n1:" : "=r"(after));
	return after;
}

static void do_breakpoint(void)
{
	(void)breakpoint();
}

Test(traps, bp_handler_resumes_after_int3)
{
	enter_or_fail(test_mode());
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_BP, bp_count), 0);
	(void)breakpoint(); /* warm-up */
	uint64_t x0 = exits_now();
	uint64_t after = breakpoint();
	uint64_t x = exits_now() - x0;
	cr_assert_eq(vec_calls, 2);
	cr_assert_eq(x, 0, "a handled #BP cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(vec_tf.vec, DUNE_VEC_BP);
	cr_assert_eq(vec_tf.rip, after, "#BP is a trap: rip after the int3");
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_BP, NULL), 0);
	cr_assert_eq(catching(SIGTRAP, do_breakpoint), SIGTRAP);
	cr_assert_eq(vec_calls, 2);
}

/* A load from a non-canonical address: #GP at any CPL (a privileged
 * instruction would not fault in ring-0 mode). */
static void gp_skip_load(struct dune_tf *tf)
{
	vec_calls++;
	vec_tf = *tf;
	tf->rip += 3; /* mov (%rax), %rax */
}

static void do_noncanonical(void)
{
	uint64_t a = 0x8000000000000000ull;
	__asm__ volatile(".byte 0x48, 0x8b, 0x00" /* mov (%rax), %rax */
			 : "+a"(a)
			 :
			 : "memory");
}

Test(traps, gp_handler_skips_a_faulting_instruction)
{
	enter_or_fail(test_mode());
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_GP, gp_skip_load), 0);
	do_noncanonical(); /* warm-up */
	uint64_t x0 = exits_now();
	do_noncanonical();
	uint64_t x = exits_now() - x0;
	cr_assert_eq(vec_calls, 2);
	cr_assert_eq(x, 0, "a handled #GP cost %llu VM exits",
		     (unsigned long long)x);
	cr_assert_eq(vec_tf.vec, DUNE_VEC_GP);
	cr_assert_eq(vec_tf.err, 0);
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_GP, NULL), 0);
	cr_assert_eq(catching(SIGSEGV, do_noncanonical), SIGSEGV);
}

/* ---- the trap frame -------------------------------------------------------- */
/* regs_trial(v): load every GPR from v[0..15] (rax rbx rcx rdx rsi rdi rbp
 * r8..r15), record rsp in v[17], set CF, execute ud2 at regs_trial_ud2,
 * then store every GPR back into v[0..15] and RFLAGS into v[16]. */
void regs_trial(uint64_t *v);
extern const char regs_trial_ud2[];
__asm__(".pushsection .text\n"
	".globl regs_trial, regs_trial_ud2\n"
	".hidden regs_trial, regs_trial_ud2\n"
	"regs_trial:\n"
	"	push %rbx\n push %rbp\n push %r12\n push %r13\n"
	"	push %r14\n push %r15\n push %rdi\n"
	"	mov %rsp, 136(%rdi)\n"
	"	mov 8(%rdi), %rbx\n mov 16(%rdi), %rcx\n"
	"	mov 24(%rdi), %rdx\n mov 32(%rdi), %rsi\n"
	"	mov 48(%rdi), %rbp\n mov 56(%rdi), %r8\n"
	"	mov 64(%rdi), %r9\n mov 72(%rdi), %r10\n"
	"	mov 80(%rdi), %r11\n mov 88(%rdi), %r12\n"
	"	mov 96(%rdi), %r13\n mov 104(%rdi), %r14\n"
	"	mov 112(%rdi), %r15\n mov 0(%rdi), %rax\n"
	"	mov 40(%rdi), %rdi\n"
	"	stc\n"
	"regs_trial_ud2:\n"
	"	ud2\n"
	"	pushfq\n push %rdi\n"
	"	mov 16(%rsp), %rdi\n"
	"	mov %rax, 0(%rdi)\n mov %rbx, 8(%rdi)\n"
	"	mov %rcx, 16(%rdi)\n mov %rdx, 24(%rdi)\n"
	"	mov %rsi, 32(%rdi)\n pop %rax\n mov %rax, 40(%rdi)\n"
	"	mov %rbp, 48(%rdi)\n mov %r8, 56(%rdi)\n"
	"	mov %r9, 64(%rdi)\n mov %r10, 72(%rdi)\n"
	"	mov %r11, 80(%rdi)\n mov %r12, 88(%rdi)\n"
	"	mov %r13, 96(%rdi)\n mov %r14, 104(%rdi)\n"
	"	mov %r15, 112(%rdi)\n pop %rax\n mov %rax, 128(%rdi)\n"
	"	add $8, %rsp\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n"
	"	pop %rbp\n pop %rbx\n"
	"	ret\n"
	".popsection\n");

#define NREGS 15
#define ADD 0x1000
static uint64_t trial[18];
static volatile int regs_seen_ok, regs_below_red_zone, regs_rip_ok;

static uint64_t *tf_reg(struct dune_tf *tf, int i)
{
	uint64_t *order[NREGS] = {&tf->rax, &tf->rbx, &tf->rcx, &tf->rdx,
				  &tf->rsi, &tf->rdi, &tf->rbp, &tf->r8,
				  &tf->r9,  &tf->r10, &tf->r11, &tf->r12,
				  &tf->r13, &tf->r14, &tf->r15};
	return order[i];
}

static void regs_handler(struct dune_tf *tf)
{
	char here;
	vec_calls++;
	regs_seen_ok = (tf->rflags & 1) && tf->rsp == trial[17];
	for (int i = 0; i < NREGS; i++) {
		if (*tf_reg(tf, i) != 0x100 + (uint64_t)i)
			regs_seen_ok = 0;
		*tf_reg(tf, i) += ADD;
	}
	regs_rip_ok = tf->rip == (uintptr_t)regs_trial_ud2;
	/* Neither the frame nor this handler's own stack overlaps the red
	 * zone of the trapping code or what it pushed: [rsp-128, rsp+64). */
	uintptr_t lo = tf->rsp - 128, hi = tf->rsp + 64, t = (uintptr_t)tf;
	regs_below_red_zone = (t + sizeof(*tf) <= lo || t >= hi) &&
			      ((uintptr_t)&here + 64 <= lo ||
			       (uintptr_t)&here >= hi);
	tf->rflags &= ~1ull; /* CF */
	tf->rip += 2;
}

Test(traps, handler_reads_and_changes_every_register)
{
	enter_or_fail(test_mode());
	cr_assert_eq(dune_register_intr_handler(DUNE_VEC_UD, regs_handler), 0);
	regs_trial(trial); /* warm-up */
	for (int i = 0; i < NREGS; i++)
		trial[i] = 0x100 + (uint64_t)i;
	uint64_t x0 = exits_now();
	regs_trial(trial);
	uint64_t x = exits_now() - x0;
	cr_assert_eq(vec_calls, 2);
	cr_assert_eq(x, 0);
	cr_assert(regs_rip_ok, "tf->rip is not the ud2");
	cr_assert(regs_seen_ok, "the trap frame does not hold the registers, "
		  "CF or rsp of the trapping code");
	cr_assert(regs_below_red_zone, "the upcall frame or the handler's "
		  "stack overlaps the red zone of the interrupted code");
	for (int i = 0; i < NREGS; i++)
		cr_assert_eq(trial[i], 0x100 + (uint64_t)i + ADD,
			     "register %d after the handler: %#llx", i,
			     (unsigned long long)trial[i]);
	cr_assert_eq(trial[16] & 1, 0, "CF cleared by the handler");
}
