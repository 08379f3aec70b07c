/* vmm/user.c: dune_jump_to_user(): run a trap frame at guest ring 3,
 * possibly on its own page table, and come back to the caller when that
 * code makes a syscall, takes an exception or a signal arrives.
 *
 * The vmm switches contexts (two exits per round trip) so that the same
 * mechanism serves both modes, and so that the code run this way can
 * reach nothing but what its page table maps: it runs with an IDT whose
 * stubs all exit (no upcalls, no privileged requests). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "dune/trap.h"
#include "sys.h"
#include "vmm.h"

static void set_segments(struct vmm_vcpu *v, int cpl)
{
	struct kvm_sregs *sr = &v->run->s.regs.sregs;
	vmm_seg(&sr->cs, cpl ? (DUNE_SEL_UCODE | 3) : DUNE_SEL_KCODE, 1, cpl);
	vmm_seg(&sr->ss, cpl ? (DUNE_SEL_UDATA | 3) : DUNE_SEL_KDATA, 0, cpl);
}

void vmm_tf_from_regs(struct dune_tf *tf, const struct kvm_regs *r)
{
	tf->r15 = r->r15, tf->r14 = r->r14, tf->r13 = r->r13, tf->r12 = r->r12;
	tf->r11 = r->r11, tf->r10 = r->r10, tf->r9 = r->r9, tf->r8 = r->r8;
	tf->rbp = r->rbp, tf->rdi = r->rdi, tf->rsi = r->rsi, tf->rdx = r->rdx;
	tf->rcx = r->rcx, tf->rbx = r->rbx, tf->rax = r->rax;
}

void vmm_regs_from_tf(struct kvm_regs *r, const struct dune_tf *tf)
{
	r->r15 = tf->r15, r->r14 = tf->r14, r->r13 = tf->r13, r->r12 = tf->r12;
	r->r11 = tf->r11, r->r10 = tf->r10, r->r9 = tf->r9, r->r8 = tf->r8;
	r->rbp = tf->rbp, r->rdi = tf->rdi, r->rsi = tf->rsi, r->rdx = tf->rdx;
	r->rcx = tf->rcx, r->rbx = tf->rbx, r->rax = tf->rax;
}

long vmm_user_enter(struct vmm_vcpu *v, gva_t tfp, uint64_t root,
		    gva_t fault_out)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	struct kvm_sregs *sr = &v->run->s.regs.sregs;
	struct dune_tf tf;
	if (v->in_user)
		return -EBUSY;
	if (root && !vmm_pool_page(v->vm, root))
		return -EINVAL;
	if (vmm_copy_from_guest(v->vm, &tf, tfp, sizeof(tf)))
		return -EFAULT;
	/* The caller resumes after its syscall, as from any syscall. */
	v->ucaller = *r;
	v->ucaller.rip = r->rcx;
	v->ucaller.rflags = vmm_sanitize_rflags(r->r11);
	v->ucaller_cr3 = sr->cr3;
	v->ucaller_idt = sr->idt.base;
	v->utf = tfp;
	v->ufault_out = fault_out;

	vmm_regs_from_tf(r, &tf);
	r->rip = tf.rip;
	r->rsp = tf.rsp;
	r->rflags = vmm_sanitize_rflags(tf.rflags);
	set_segments(v, 3);
	if (root)
		sr->cr3 = root;
	sr->idt.base = (uint64_t)(uintptr_t)(v->vm->arena + ARENA_UIDT_OFF);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	v->in_user = 1;
	return 0;
}

void vmm_user_exit(struct vmm_vcpu *v, int why, const struct dune_trap_frame *f,
		   uint64_t cr2)
{
	struct kvm_regs *r = &v->run->s.regs.regs;
	struct kvm_sregs *sr = &v->run->s.regs.sregs;
	struct dune_tf tf;
	vmm_tf_from_regs(&tf, r);
	tf.cs = DUNE_SEL_UCODE | 3;
	tf.ss = DUNE_SEL_UDATA | 3;
	if (f) { /* an exception: the state is in the trap frame */
		tf.vec = f->vec, tf.err = f->err, tf.rip = f->rip;
		tf.rflags = f->rflags, tf.rsp = f->rsp;
	} else if (why == DUNE_RET_SYSCALL) { /* rcx/r11: syscall's */
		tf.vec = DUNE_VEC_SYSCALL, tf.err = 0, tf.rip = r->rcx;
		tf.rflags = r->r11, tf.rsp = r->rsp;
	} else { /* interrupted where it was */
		tf.vec = 0, tf.err = 0, tf.rip = r->rip;
		tf.rflags = r->rflags, tf.rsp = r->rsp;
	}
	int bad = vmm_copy_to_guest(v->vm, v->utf, &tf, sizeof(tf));
	if (!bad && v->ufault_out && f && f->vec == DUNE_VEC_PF)
		bad =
		    vmm_copy_to_guest(v->vm, v->ufault_out, &cr2, sizeof(cr2));
	*r = v->ucaller;
	r->rax = (uint64_t)(bad ? -EFAULT : why);
	sr->cr3 = v->ucaller_cr3;
	sr->idt.base = v->ucaller_idt;
	set_segments(v, v->vm->mode == DUNE_MODE_RING3 ? 3 : 0);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	v->in_user = 0;
}
