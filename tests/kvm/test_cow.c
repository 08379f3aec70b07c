/* tests/kvm/test_cow.c: copy-on-write after dune_vm_clone(), the way it is
 * meant to be used: code runs on the clone (dune_jump_to_user) and its
 * write faults come back to the caller, which resolves them on the clone
 * with dune_vm_cow_fault(). The process's own table is never changed. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "dune/abi.h"
#include "dune/dune.h"
#include "dune/trap.h"
#include "dune/vm.h"
#include "helpers.h"

#define PG 4096ul

Test(cow, clone_gives_user_code_private_copies, .timeout = 60)
{
	enter_or_fail(test_mode());
	char *buf = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	strcpy(buf, "original");
	ptent_t *o = dune_pgroot();
	ptent_t *c = dune_vm_clone(o);
	cr_assert_not_null(c);
	ptent_t *eo, *ec;
	cr_assert_eq(dune_vm_lookup(o, buf, 0, &eo), 0);
	cr_assert_eq(dune_vm_lookup(c, buf, 0, &ec), 0);
	cr_assert(*eo & DUNE_PTE_W, "the process's own table keeps W");
	cr_assert_eq(*ec & (DUNE_PTE_W | DUNE_PTE_COW), DUNE_PTE_COW,
		     "the clone's page is read-only COW");
	cr_assert_eq(DUNE_PTE_ADDR(*eo), DUNE_PTE_ADDR(*ec), "one frame");

	/* User code (guest-only pages of the clone): write "clone" into buf,
	 * then syscall. movabs $buf,%rdi; movl $'c'|..,(%rdi); syscall */
	char *r = mmap(NULL, 2 * PG, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(r, MAP_FAILED);
	cr_assert_eq(dune_vm_map_pages(c, r, 2 * PG,
				       PERM_R | PERM_W | PERM_X | PERM_U), 0);
	ptent_t *code;
	cr_assert_eq(dune_vm_lookup(c, r, 0, &code), 0);
	unsigned char *f = (unsigned char *)(uintptr_t)DUNE_PTE_ADDR(*code);
	unsigned char prog[] = {0x48, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0, /* movabs */
				0xc7, 0x07, 'c', 'l', 'o', 'n',      /* movl */
				0x0f, 0x05};                          /* syscall */
	uint64_t a = (uint64_t)(uintptr_t)buf;
	memcpy(prog + 2, &a, 8);
	memcpy(f, prog, sizeof(prog));

	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uint64_t)(uintptr_t)r;
	tf.rsp = (uint64_t)(uintptr_t)(r + 2 * PG);
	tf.rflags = 0x202;
	uint64_t cr2 = 0;
	int ret = dune_jump_to_user(&tf, c, &cr2);
	cr_assert_eq(ret, DUNE_RET_FAULT, "first run: %d", ret);
	cr_assert_eq(tf.vec, 14);
	cr_assert_eq(cr2, a, "the write to the COW page faults");
	cr_assert(tf.err & DUNE_PF_W);
	cr_assert_eq(dune_vm_cow_fault(c, cr2, tf.err), 0);
	cr_assert_eq(dune_vm_cow_fault(o, cr2, tf.err), -EFAULT,
		     "the process's page is not COW");
	ret = dune_jump_to_user(&tf, c, &cr2);
	cr_assert_eq(ret, DUNE_RET_SYSCALL, "second run: %d", ret);

	cr_assert_str_eq(buf, "original", "the original is untouched");
	cr_assert_eq(dune_vm_lookup(c, buf, 0, &ec), 0);
	cr_assert(*ec & DUNE_PTE_W);
	cr_assert_neq(DUNE_PTE_ADDR(*ec), DUNE_PTE_ADDR(*eo), "a copy");
	cr_assert_eq(memcmp((char *)(uintptr_t)DUNE_PTE_ADDR(*ec), "cloninal",
			    8), 0, "the copy holds the write");
	dune_vm_free(c);
}
