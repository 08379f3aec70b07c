/* bench/linuxmm.c: the Linux memory-protection paths dune is compared with
 * (see linuxmm.h). Debian 12's uapi headers predate WP_ASYNC and
 * PAGEMAP_SCAN (Linux 6.7), so their definitions are repeated here; the
 * running kernel decides whether they work. */
#define _GNU_SOURCE
#include "linuxmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
/* include/uapi/linux/fs.h, Linux 6.7 */
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages,
	    category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
_Static_assert(sizeof(struct pm_scan_arg) == 96, "pm_scan_arg is 96 bytes");

__asm__(".pushsection .text\n"
	".globl bench_touch, bench_touch_resume\n"
	".hidden bench_touch, bench_touch_resume\n"
	".type bench_touch, @function\n"
	"bench_touch:\n"
	"	movb $1, (%rdi)\n"
	"bench_touch_resume:\n"
	"	ret\n"
	".size bench_touch, .-bench_touch\n"
	".popsection\n");

/* ---- SIGSEGV ---------------------------------------------------------------- */
static volatile enum segv_mode segv_cur;
static volatile uint64_t segv_n;

static void segv_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	segv_n++;
	if (segv_cur == SEGV_SKIP)
		uc->uc_mcontext.gregs[REG_RIP] =
		    (greg_t)(uintptr_t)bench_touch_resume;
	else
		mprotect((void *)((uintptr_t)si->si_addr & ~(BPG - 1)), BPG,
			 PROT_READ | PROT_WRITE);
}

int segv_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL) ? -errno : 0;
}

void segv_set_mode(enum segv_mode m)
{
	segv_cur = m;
}

uint64_t segv_count(void)
{
	return segv_n;
}

/* ---- userfaultfd ------------------------------------------------------------- */
int uffd_open(struct uffd *u, enum uffd_kind kind, char *base, size_t len)
{
	static const uint64_t features[] = {
	    [UFFD_MISSING] = 0,
	    [UFFD_WP] = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	    [UFFD_WP_ASYNC] = UFFD_FEATURE_WP_ASYNC |
			      UFFD_FEATURE_WP_UNPOPULATED,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct uffdio_api api = {.api = UFFD_API, .features = features[kind]};
	int r = 0;
	if (ioctl(fd, UFFDIO_API, &api))
		r = errno == EINVAL ? -ENOTSUP : -errno;
	struct uffdio_register reg = {
	    .range = {(uintptr_t)base, len},
	    .mode = kind == UFFD_MISSING ? UFFDIO_REGISTER_MODE_MISSING
					 : UFFDIO_REGISTER_MODE_WP,
	};
	if (!r && ioctl(fd, UFFDIO_REGISTER, &reg))
		r = -errno;
	if (r) {
		close(fd);
		return r;
	}
	*u = (struct uffd){fd, kind, base, len};
	return 0;
}

void uffd_close(struct uffd *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

int uffd_wp(struct uffd *u, void *p, size_t len, int wp)
{
	struct uffdio_writeprotect w = {
	    .range = {(uintptr_t)p, len},
	    .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	return ioctl(u->fd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

int uffd_fill(struct uffd *u, void *p)
{
	static char zero[BPG] __attribute__((aligned(4096)));
	struct uffdio_copy c = {
	    .dst = (uintptr_t)p, .src = (uintptr_t)zero, .len = BPG, .mode = 0};
	return ioctl(u->fd, UFFDIO_COPY, &c) ? -errno : 0;
}

static struct uffd *const *h_uffd;
static int h_n, h_stop = -1;
static pthread_t h_thread;
static volatile uint64_t h_handled;

static void *handler_main(void *arg)
{
	struct pollfd pf[5];
	(void)arg;
	for (int i = 0; i < h_n; i++)
		pf[i] = (struct pollfd){h_uffd[i]->fd, POLLIN, 0};
	pf[h_n] = (struct pollfd){h_stop, POLLIN, 0};
	for (;;) {
		if (poll(pf, (nfds_t)h_n + 1, -1) < 0 && errno != EINTR)
			break;
		if (pf[h_n].revents)
			break;
		for (int i = 0; i < h_n; i++) {
			struct uffd_msg msg;
			if (!(pf[i].revents & POLLIN))
				continue;
			while (read(pf[i].fd, &msg, sizeof(msg)) ==
			       (ssize_t)sizeof(msg)) {
				if (msg.event != UFFD_EVENT_PAGEFAULT)
					continue;
				char *a = (char *)(uintptr_t)(
				    msg.arg.pagefault.address & ~(BPG - 1));
				if (msg.arg.pagefault.flags &
				    UFFD_PAGEFAULT_FLAG_WP)
					uffd_wp(h_uffd[i], a, BPG, 0);
				else
					uffd_fill(h_uffd[i], a);
				h_handled++;
			}
		}
	}
	return NULL;
}

int uffd_start_handler(struct uffd *const *u, int n)
{
	cpu_set_t set;
	int cpu = sched_getcpu();
	if (n > 4 || cpu < 0)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (r)
		return -r;
	h_uffd = u;
	h_n = n;
	h_stop = eventfd(0, EFD_CLOEXEC);
	if (h_stop < 0)
		return -errno;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setaffinity_np(&at, sizeof(set), &set);
	r = pthread_create(&h_thread, &at, handler_main, NULL);
	pthread_attr_destroy(&at);
	if (r) {
		close(h_stop);
		h_stop = -1;
		return -r;
	}
	return 0;
}

void uffd_stop_handler(void)
{
	uint64_t one = 1;
	if (h_stop < 0)
		return;
	if (write(h_stop, &one, sizeof(one)) == (ssize_t)sizeof(one))
		pthread_join(h_thread, NULL);
	close(h_stop);
	h_stop = -1;
}

uint64_t uffd_handled(void)
{
	return h_handled;
}

/* ---- PAGEMAP_SCAN and soft-dirty --------------------------------------------- */
static int pagemap_fd(void)
{
	static int fd = -1;
	if (fd < 0)
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return fd;
}

long pagemap_scan_written(void *p, size_t len, uintptr_t *out, size_t max,
			  int wp)
{
	static struct page_region *vec;
	static size_t vec_n;
	int fd = pagemap_fd();
	if (fd < 0)
		return -errno;
	if (vec_n < max) {
		free(vec);
		vec = malloc(max * sizeof(*vec));
		vec_n = vec ? max : 0;
		if (!vec)
			return -ENOMEM;
	}
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .flags = wp ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
	    .start = (uintptr_t)p,
	    .end = (uintptr_t)p + len,
	    .vec = (uintptr_t)vec,
	    .vec_len = max,
	    .max_pages = max,
	    .category_mask = PAGE_IS_WRITTEN,
	    .return_mask = PAGE_IS_WRITTEN,
	};
	long n = ioctl(fd, PAGEMAP_SCAN, &a);
	if (n < 0)
		return -errno;
	size_t k = 0;
	for (long i = 0; i < n; i++)
		for (uint64_t a2 = vec[i].start; a2 < vec[i].end && k < max;
		     a2 += BPG)
			out[k++] = a2;
	return (long)k;
}

int softdirty_clear(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, "4", 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

#define PM_SOFT_DIRTY (1ull << 55)

int softdirty_supported(void)
{
	uintptr_t one[1];
	char *p = mmap(NULL, BPG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	int ok = !softdirty_clear() && (*(volatile char *)p = 1) &&
		 softdirty_scan(p, BPG, one, 1) == 1;
	munmap(p, BPG);
	return ok;
}

long softdirty_scan(void *p, size_t len, uintptr_t *out, size_t max)
{
	static uint64_t *buf;
	static size_t buf_n;
	size_t n = len / BPG;
	int fd = pagemap_fd();
	if (fd < 0)
		return -errno;
	if (buf_n < n) {
		free(buf);
		buf = malloc(n * sizeof(*buf));
		buf_n = buf ? n : 0;
		if (!buf)
			return -ENOMEM;
	}
	off_t off = (off_t)((uintptr_t)p / BPG * sizeof(*buf));
	size_t got = 0;
	while (got < n * sizeof(*buf)) {
		ssize_t k = pread(fd, (char *)buf + got, n * sizeof(*buf) - got,
				  off + (off_t)got);
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		got += (size_t)k;
	}
	size_t k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (buf[i] & PM_SOFT_DIRTY)
			out[k++] = (uintptr_t)p + i * BPG;
	return (long)k;
}
