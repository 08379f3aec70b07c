/* vmm/kvm.c: /dev/kvm, the capabilities we rely on, and the VM object. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sys.h"
#include "gl.h"
#include "vmm.h"

struct vmm *vmm_g;
struct vmm_config vmm_cfg = {.trace_fd = -1, .stats_fd = -1};

void vmm_msg(const char *a, const char *b, const char *c)
{
	const char *p[3] = {a, b, c};
	for (int i = 0; i < 3; i++)
		if (p[i])
			vmm_write(2, p[i], strlen(p[i]));
}

char *vmm_fmt_hex(char *buf, uint64_t v)
{
	char tmp[17];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < n; i++)
		buf[2 + i] = tmp[n - 1 - i];
	buf[2 + n] = 0;
	return buf;
}

char *vmm_fmt_dec(char *buf, long v)
{
	char tmp[24];
	int n = 0, neg = v < 0;
	unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	int k = 0;
	if (neg)
		buf[k++] = '-';
	while (n)
		buf[k++] = tmp[--n];
	buf[k] = 0;
	return buf;
}

void *vmm_zalloc(size_t len)
{
	void *p = vmm_mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return vmm_mmap_failed(p) ? NULL : p;
}

void vmm_free(void *p, size_t len)
{
	if (p)
		vmm_sys2(SYS_munmap, p, len);
}

static const char *kvm_dev_path(void)
{
	const char *p = getenv("DUNE_KVM_DEV"); /* tests point it elsewhere */
	return p && *p ? p : "/dev/kvm";
}

static void cpuid_host(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* "VT-x" or "AMD-V" if the CPU KVM runs on offers it, else "". */
static const char *host_virt(void)
{
	uint32_t r[4];
	cpuid_host(1, 0, r);
	if (r[2] & (1u << 5)) /* VMX */
		return "VT-x";
	cpuid_host(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		cpuid_host(0x80000001, 0, r);
		if (r[2] & (1u << 2)) /* SVM */
			return "AMD-V";
	}
	return "";
}

static int host_hw_virt(void)
{
	return *host_virt() != 0;
}

/* Whether KVM uses nested paging (EPT/NPT): the vendor module's parameter
 * (Y/N, or 1/0 on old kernels); -1 when no vendor module is loaded. */
static int host_tdp(void)
{
	char b[8];
	if (vmm_read_text("/sys/module/kvm_intel/parameters/ept", b,
			  sizeof(b)) <= 0 &&
	    vmm_read_text("/sys/module/kvm_amd/parameters/npt", b,
			  sizeof(b)) <= 0)
		return -1;
	return b[0] == 'Y' || b[0] == '1';
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

#define CPUID_BUF (256u << 10)

/* Protection keys: the guest runs with CR4.PKE off (dune's page tables
 * carry no keys), where RDPKRU/WRPKRU raise #UD. KVM's supported CPUID
 * still offers PKU, and a program that saw it (glibc's pkey_get after a
 * pkey_alloc the host granted: V8 does this) died with SIGILL. Promise
 * neither PKU nor OSPKE; pkey_alloc answers as on a CPU without keys
 * (vmm/syscall.c). */
static void hide_pkeys(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 7 && c->entries[i].index == 0)
			c->entries[i].ecx &= ~((1u << 3) | (1u << 4));
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	for (int n = 128; n <= 4096; n *= 2) {
		size_t sz = sizeof(struct kvm_cpuid2) +
			    n * sizeof(struct kvm_cpuid_entry2);
		struct kvm_cpuid2 *c = vmm_zalloc(CPUID_BUF);
		if (!c || sz > CPUID_BUF)
			return vmm_free(c, CPUID_BUF), NULL;
		c->nent = n;
		long r = __vmm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0)
			return c;
		vmm_free(c, CPUID_BUF);
		if (r != -E2BIG)
			return NULL;
	}
	return NULL;
}

static int open_kvm(char *detail, size_t dlen)
{
	const char *path = kvm_dev_path();
	int fd =
	    (int)vmm_sys4(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC, 0);
	if (fd == -ENOENT || fd == -ENODEV || fd == -ENXIO)
		snprintf(
		    detail, dlen,
		    "%s does not exist: this host has no KVM (load kvm_intel "
		    "or kvm_amd, or run on a machine with /dev/kvm)",
		    path);
	else if (fd == -EACCES || fd == -EPERM)
		snprintf(
		    detail, dlen,
		    "no permission to open %s: run as root or add the user "
		    "to the group that owns it (usually 'kvm')",
		    path);
	else if (fd < 0)
		snprintf(detail, dlen, "cannot open %s: %s", path,
			 strerror((int)-fd));
	return fd;
}

struct cap_need {
	long cap;
	const char *name;
};

static const struct cap_need needed_caps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
};

static int check_kvm(struct vmm *vm, char *detail, size_t dlen)
{
	long v = __vmm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (v < 0) {
		snprintf(detail, dlen, "%s is not a KVM device (%s)",
			 kvm_dev_path(), strerror((int)-v));
		return -ENOSYS;
	}
	if (v != KVM_API_VERSION) {
		snprintf(detail, dlen, "KVM API version %ld, need %d", v,
			 KVM_API_VERSION);
		return -ENOSYS;
	}
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]);
	     i++) {
		if (__vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				(void *)needed_caps[i].cap) <= 0) {
			snprintf(detail, dlen,
				 "KVM lacks %s, which dune needs (kernel too "
				 "old?)",
				 needed_caps[i].name);
			return -ENOSYS;
		}
	}
	long sync = __vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				(void *)KVM_CAP_SYNC_REGS);
	if ((sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) !=
	    (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) {
		snprintf(detail, dlen,
			 "KVM lacks KVM_CAP_SYNC_REGS for regs "
			 "and sregs");
		return -ENOSYS;
	}
	vm->max_slots = (int)__vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
					 (void *)KVM_CAP_NR_MEMSLOTS);
	vm->has_xcrs = __vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				   (void *)KVM_CAP_XCRS) > 0;
	vm->run_size =
	    (int)__vmm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (vm->run_size <= 0) {
		snprintf(detail, dlen, "KVM_GET_VCPU_MMAP_SIZE failed");
		return -ENOSYS;
	}
	vm->xsave_size = sizeof(struct kvm_xsave);
	vm->cpuid = get_supported_cpuid(vm->kvm_fd);
	if (!vm->cpuid) {
		snprintf(detail, dlen, "KVM_GET_SUPPORTED_CPUID failed");
		return -ENOSYS;
	}
	struct kvm_cpuid_entry2 *e = cpuid_find(vm->cpuid, 0x80000008);
	vm->guest_phys_bits = e ? (int)(e->eax & 0xff) : 36;
	e = cpuid_find(vm->cpuid, 0x80000001);
	vm->gbpages = e && (e->edx & (1u << 26));
	if (vm->guest_phys_bits < 48) {
		snprintf(detail, dlen,
			 "guest physical address width is %d bits; dune maps "
			 "guest-physical = host-virtual and needs 48",
			 vm->guest_phys_bits);
		return -ENOSYS;
	}
	if (!e || !(e->edx & (1u << 29))) {
		snprintf(detail, dlen, "KVM's CPUID lacks long mode (LM)");
		return -ENOSYS;
	}
	hide_pkeys(vm->cpuid);
	return 0;
}

/* By default x86 KVM drops every shadow/EPT entry of the VM when any
 * memslot is deleted (KVM_X86_QUIRK_SLOT_ZAP_ALL): each returned grant or
 * unmapped host range then costs every vCPU a refault of everything it
 * touches. With the quirk disabled KVM still makes the deleted slot's
 * memory unreachable (api.rst), which is all dune needs; the capability
 * tests check exactly that. DUNE_SLOT_ZAP_ALL=1 keeps the default. */
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif
static void targeted_slot_zap(struct vmm *vm)
{
	const char *env = getenv("DUNE_SLOT_ZAP_ALL");
	if (env && *env == '1')
		return;
	long have = __vmm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
				(void *)(uintptr_t)KVM_CAP_DISABLE_QUIRKS2);
	if (have <= 0 || !(have & KVM_X86_QUIRK_SLOT_ZAP_ALL))
		return;
	struct kvm_enable_cap c = {.cap = KVM_CAP_DISABLE_QUIRKS2,
				   .args = {KVM_X86_QUIRK_SLOT_ZAP_ALL}};
	__vmm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &c);
}

/* An instruction KVM has to emulate and cannot (on VT-x/AMD-V: an access
 * through a guest PTE to guest-physical memory no memslot backs, done by
 * an instruction KVM's emulator lacks, such as a vector load) would by
 * default become a #UD injected into the guest at CPL3, i.e. a SIGILL the
 * program may even catch. With this capability every such failure exits
 * to the vmm, which ends the process with SIGSEGV in both modes
 * (vmm_unbacked_access). Real #UDs stay #UDs: KVM emulates only the few
 * opcodes it must on a #UD intercept. Kernels before 5.14 lack it. */
static void exit_on_emulation_failure(struct vmm *vm)
{
	struct kvm_enable_cap c = {.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE,
				   .args = {1}};
	if (__vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			(void *)(uintptr_t)KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0)
		__vmm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &c);
}

/* What the upcall path saves (guestlib/gl.h): XSAVE if the guest may use
 * it (its CR4.OSXSAVE, or on software KVM the host's, since ring 3 runs on
 * the real CPU), sized for everything the CPU supports; else FXSAVE.
 * Nothing in emulated ring 0 (ring-0 mode on software KVM): KVM's
 * emulator cannot execute XSAVE, and code there is integer-only anyway. */
static void set_upcall_xsave(const struct vmm *vm)
{
	uint32_t r[4];
	cpuid_host(1, 0, r);
	int osxsave = !!(r[2] & (1u << 27));
	gl_fpu_save = osxsave && (vm->has_xcrs || !vm->hw_virt) ? GL_FPU_XSAVE
								 : GL_FPU_FXSAVE;
	if (!vm->hw_virt && vm->mode == DUNE_MODE_RING0)
		gl_fpu_save = GL_FPU_NONE;
	gl_xsave_bytes = 512 + 64;
	if (gl_fpu_save == GL_FPU_XSAVE) {
		cpuid_host(0xd, 0, r);
		gl_xsave_bytes = r[2] > gl_xsave_bytes ? r[2] : gl_xsave_bytes;
	}
	gl_xsave_bytes = (gl_xsave_bytes + 63) & ~63ull;
}

static uint64_t host_xcr0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static enum dune_mode pick_mode(enum dune_mode mode, int hw, char *detail,
				size_t dlen)
{
	if (mode == DUNE_MODE_AUTO) {
		const char *env = getenv("DUNE_MODE");
		if (env && *env) {
			if (!strcmp(env, "ring0"))
				return DUNE_MODE_RING0;
			if (!strcmp(env, "ring3"))
				return DUNE_MODE_RING3;
			if (strcmp(env, "auto")) {
				snprintf(detail, dlen,
					 "DUNE_MODE='%s' is not one of ring0, "
					 "ring3, auto",
					 env);
				return (enum dune_mode) - 1;
			}
		}
		return hw ? DUNE_MODE_RING0 : DUNE_MODE_RING3;
	}
	if (mode != DUNE_MODE_RING0 && mode != DUNE_MODE_RING3) {
		snprintf(detail, dlen, "mode %d is not a dune_mode", (int)mode);
		return (enum dune_mode) - 1;
	}
	return mode;
}

int vmm_create(enum dune_mode mode, char *detail, size_t dlen)
{
	int r;
	struct vmm *vm = vmm_zalloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->hw_virt = host_hw_virt();
	vm->mode = pick_mode(mode, vm->hw_virt, detail, dlen);
	if ((int)vm->mode < 0) {
		r = -EINVAL;
		goto fail;
	}
	vm->kvm_fd = vmm_fd_high(open_kvm(detail, dlen));
	if (vm->kvm_fd < 0) {
		r = vm->kvm_fd;
		goto fail;
	}
	r = check_kvm(vm, detail, dlen);
	if (r)
		goto fail;
	vm->xcr0 = host_xcr0();
	set_upcall_xsave(vm);
	vm->vm_fd = vmm_fd_high((int)__vmm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0));
	if (vm->vm_fd < 0) {
		r = vm->vm_fd;
		snprintf(detail, dlen, "KVM_CREATE_VM failed: %s",
			 strerror(-r));
		goto fail;
	}
	targeted_slot_zap(vm);
	exit_on_emulation_failure(vm);
	r = vmm_mem_init(vm);
	if (r) {
		snprintf(detail, dlen, "setting up guest memory failed: %s",
			 strerror(-r));
		goto fail;
	}
	gl_build_idt(vm->arena + ARENA_IDT_OFF, gl_vectors);
	gl_build_idt(vm->arena + ARENA_UIDT_OFF, gl_vectors_exit);
	static uint64_t generation;
	vm->gen = ++generation;
	vmm_g = vm;
	return 0;
fail:
	vmm_destroy(vm);
	return r;
}

void vmm_destroy(struct vmm *vm)
{
	if (!vm)
		return;
	vmm_vcpu_free_all(vm);
	vmm_ram_fini(vm);
	if (vm->arena)
		vmm_mem_fini(vm);
	if (vm->vm_fd >= 0)
		vmm_close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		vmm_close(vm->kvm_fd);
	vmm_free(vm->cpuid, CPUID_BUF);
	vmm_free(vm, sizeof(*vm));
	if (vmm_g == vm)
		vmm_g = NULL;
}

int vmm_probe_host(struct dune_host_info *info)
{
	char detail[256];
	struct vmm vm;
	int r;
	memset(info, 0, sizeof(*info));
	memset(&vm, 0, sizeof(vm));
	snprintf(info->virt, sizeof(info->virt), "%s", host_virt());
	info->hw_virt = info->virt[0] != 0;
	info->tdp = host_tdp();
	uint32_t b[12];
	cpuid_host(0x80000002, 0, b);
	cpuid_host(0x80000003, 0, b + 4);
	cpuid_host(0x80000004, 0, b + 8);
	memcpy(info->cpu, b, 48);
	info->cpu[48] = 0;
	vm.kvm_fd = open_kvm(detail, sizeof(detail));
	if (vm.kvm_fd < 0)
		return vm.kvm_fd;
	info->api_version =
	    (int)__vmm_ioctl(vm.kvm_fd, KVM_GET_API_VERSION, NULL);
	r = check_kvm(&vm, detail, sizeof(detail));
	info->nr_memslots = vm.max_slots;
	info->max_vcpus = (int)__vmm_ioctl(vm.kvm_fd, KVM_CHECK_EXTENSION,
					   (void *)KVM_CAP_MAX_VCPUS);
	info->guest_phys_bits = vm.guest_phys_bits;
	info->gbpages = vm.gbpages;
	vmm_free(vm.cpuid, CPUID_BUF);
	vmm_close(vm.kvm_fd);
	return r;
}
