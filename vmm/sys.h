/* vmm/sys.h: raw system calls for the monitor.
 *
 * The monitor runs on a thread whose libc state (errno, malloc locks,
 * stdio) belongs to the guest, which may have trapped in the middle of
 * malloc. So the monitor never calls libc wrappers on its exit paths: these
 * return -errno and touch no libc state. */
#ifndef VMM_SYS_H
#define VMM_SYS_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

static inline long vmm_sys6(long nr, long a, long b, long c, long d, long e,
			    long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define vmm_sys0(n) vmm_sys6(n, 0, 0, 0, 0, 0, 0)
#define vmm_sys1(n, a) vmm_sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define vmm_sys2(n, a, b) vmm_sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define vmm_sys3(n, a, b, c)                                                   \
	vmm_sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define vmm_sys4(n, a, b, c, d)                                                \
	vmm_sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* ioctl returning -errno (the "raw" form; callers check). */
static inline long __vmm_ioctl(int fd, unsigned long req, const void *arg)
{
	return vmm_sys3(SYS_ioctl, fd, req, arg);
}

static inline void *vmm_mmap(void *addr, size_t len, int prot, int flags,
			     int fd, long off)
{
	return (void *)vmm_sys6(SYS_mmap, (long)addr, (long)len, prot, flags,
				fd, off);
}
static inline int vmm_mmap_failed(const void *p)
{
	return (unsigned long)p > -4096ul;
}
static inline long vmm_close(int fd)
{
	return vmm_sys1(SYS_close, fd);
}
static inline long vmm_write(int fd, const void *b, size_t n)
{
	return vmm_sys3(SYS_write, fd, b, n);
}
/* The start of a small text file (sysfs, procfs) into buf, NUL-ended:
 * the length read or -errno. */
static inline long vmm_read_text(const char *path, char *buf, size_t len)
{
	int fd = (int)vmm_sys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	long n = vmm_sys3(SYS_read, fd, buf, len - 1);
	vmm_close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}
static inline int vmm_gettid(void)
{
	return (int)vmm_sys0(SYS_gettid);
}

/* Zeroed anonymous memory straight from mmap (never malloc: see above). */
void *vmm_zalloc(size_t len);
void vmm_free(void *p, size_t len);

/* Read one byte at addr from the monitor; returns 0, -EFAULT (SIGSEGV) or
 * -EBUSY (SIGBUS). A read fault is the kernel's test of "would a native
 * access work?" and grows a stack exactly as a native access would. */
long vmm_probe_read(const void *addr);
/* Called by the host SIGSEGV/SIGBUS handler: if rip is the probe's
 * instruction, point rip at its fixup and return 1. */
int vmm_probe_fixup(void *ucontext, int sig);

/* Write a message to stderr without libc: parts are joined. */
void vmm_msg(const char *a, const char *b, const char *c);
/* Format a value into buf (hex with 0x, or decimal); returns buf. */
char *vmm_fmt_hex(char *buf, uint64_t v);
char *vmm_fmt_dec(char *buf, long v);

#endif /* VMM_SYS_H */
