/* vmm/maps.c: what the host has mapped, read from the kernel.
 *
 * Uses the PROCMAP_QUERY ioctl on /proc/self/maps (Linux 6.11+, one vma per
 * call, no text) and falls back to parsing the text of /proc/self/maps.
 * Raw syscalls only (see sys.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "maps.h"
#include "sys.h"
#include "vmm.h"

/* uapi/linux/fs.h (6.11+); Debian 12's headers predate it. */
struct vmm_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define VMM_PROCMAP_QUERY _IOWR('f', 17, struct vmm_procmap_query)
#define PMQ_READABLE 0x01
#define PMQ_WRITABLE 0x02
#define PMQ_EXECUTABLE 0x04
#define PMQ_SHARED 0x08
#define PMQ_COVERING_OR_NEXT 0x10

static int maps_fd = -1;
static int have_query = -1; /* unknown */

static int open_maps(void)
{
	if (maps_fd < 0) {
		int fd = (int)vmm_sys4(SYS_openat, AT_FDCWD, "/proc/self/maps",
				       O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			return fd;
		maps_fd = vmm_fd_high(fd);
	}
	return maps_fd;
}

int *vmm_maps_fd_slot(void)
{
	return &maps_fd;
}

void vmm_maps_reset(void)
{
	/* After fork the fd still names the parent's maps: reopen. */
	if (maps_fd >= 0)
		vmm_close(maps_fd);
	maps_fd = -1;
}

static char query_name[4096];

static int query(uint64_t addr, struct vmm_vma *out)
{
	struct vmm_procmap_query q;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_flags = PMQ_COVERING_OR_NEXT;
	q.query_addr = addr;
	q.vma_name_addr = (uint64_t)(uintptr_t)query_name;
	q.vma_name_size = sizeof(query_name);
	long r = __vmm_ioctl(maps_fd, VMM_PROCMAP_QUERY, &q);
	if (r)
		return (int)r;
	out->start = q.vma_start;
	out->end = q.vma_end;
	out->prot = (q.vma_flags & PMQ_READABLE ? PROT_READ : 0) |
		    (q.vma_flags & PMQ_WRITABLE ? PROT_WRITE : 0) |
		    (q.vma_flags & PMQ_EXECUTABLE ? PROT_EXEC : 0);
	out->shared = !!(q.vma_flags & PMQ_SHARED);
	out->file = q.inode != 0;
	out->offset = q.vma_offset;
	out->path = q.vma_name_size ? query_name : NULL;
	return 0;
}

static uint64_t parse_hex(char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

#define TEXT_BUF (16u << 20)
static char *text_buf;

static int iter_text(uint64_t start, uint64_t end, vmm_vma_cb cb, void *arg)
{
	if (!text_buf) {
		text_buf = vmm_mmap(NULL, TEXT_BUF, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);
		if (vmm_mmap_failed(text_buf)) {
			text_buf = NULL;
			return -ENOMEM;
		}
	}
	size_t len = 0;
	long n;
	vmm_sys3(SYS_lseek, maps_fd, 0, 0);
	while ((n = vmm_sys3(SYS_read, maps_fd, text_buf + len,
			     TEXT_BUF - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		return (int)n;
	text_buf[len] = 0;
	for (char *p = text_buf; *p;) {
		struct vmm_vma v;
		v.start = parse_hex(&p);
		p++; /* '-' */
		v.end = parse_hex(&p);
		p++; /* ' ' */
		v.prot = (p[0] == 'r' ? PROT_READ : 0) |
			 (p[1] == 'w' ? PROT_WRITE : 0) |
			 (p[2] == 'x' ? PROT_EXEC : 0);
		v.shared = p[3] == 's';
		/* "rw-p offset dev inode   name" */
		while (*p && *p != ' ')
			p++;
		p++;
		v.offset = parse_hex(&p);
		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && *p != '\n') /* dev */
			p++;
		while (*p == ' ')
			p++;
		v.file = *p >= '1' && *p <= '9'; /* inode */
		while (*p && *p != ' ' && *p != '\n')
			p++;
		while (*p == ' ')
			p++;
		char *name = p;
		while (*p && *p != '\n')
			p++;
		char saved = *p;
		*p = 0;
		v.path = *name ? name : NULL;
		if (*p)
			p++;
		int r = 0;
		if (v.end > start && v.start < end)
			r = cb(&v, arg);
		*p = saved;
		if (saved)
			p++;
		if (r)
			return r;
	}
	return 0;
}

int vmm_maps_iter(uint64_t start, uint64_t end, vmm_vma_cb cb, void *arg)
{
	int fd = open_maps();
	if (fd < 0)
		return fd;
	if (have_query < 0) {
		struct vmm_vma v;
		int r = query(0, &v);
		have_query = !(r == -ENOTTY || r == -EINVAL);
	}
	if (!have_query)
		return iter_text(start, end, cb, arg);
	for (uint64_t a = start; a < end;) {
		struct vmm_vma v;
		int r = query(a, &v);
		if (r == -ENOENT)
			return 0;
		if (r)
			return r;
		if (v.start >= end)
			return 0;
		r = cb(&v, arg);
		if (r)
			return r;
		a = v.end;
	}
	return 0;
}

static char found_path[4096];

static int find_cb(const struct vmm_vma *v, void *arg)
{
	struct vmm_vma *out = arg;
	*out = *v;
	/* The path must outlive the callback (see maps.h). */
	if (v->path) {
		size_t n = strlen(v->path);
		if (n >= sizeof(found_path))
			n = sizeof(found_path) - 1;
		memcpy(found_path, v->path, n);
		found_path[n] = 0;
		out->path = found_path;
	}
	return 1;
}

int vmm_maps_find(uint64_t addr, struct vmm_vma *out)
{
	int r = vmm_maps_iter(addr, addr + 1, find_cb, out);
	if (r == 1)
		return out->start <= addr ? 0 : -ENOENT;
	return r ? r : -ENOENT;
}
