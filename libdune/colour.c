/* libdune/colour.c: cache colours of host frames for the vspace: how many
 * colours the last-level cache has (sysfs), and the colour of a frame (its
 * host PFN, from /proc/self/pagemap, which shows PFNs only to a process
 * with CAP_SYS_ADMIN). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vspace_int.h"

#define PM_PRESENT (1ull << 63)
#define PM_PFN ((1ull << 55) - 1)

static pthread_once_t geo_once = PTHREAD_ONCE_INIT;
static int geo_colours = -ENOTSUP;

/* A number from a sysfs file, with an optional K/M/G suffix; -1 if none. */
static long long sysfs_num(int index, const char *name)
{
	char path[96], buf[32];
	snprintf(path, sizeof(path),
		 "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (buf[0] < '0' || buf[0] > '9')
		return buf[0] == 'I' ? -2 : 0; /* "Instruction": not data */
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	else if (*end == 'G')
		v <<= 30;
	return v;
}

/* The highest cache level that holds data: colours = (size / ways) / 4 KiB.
 * More than 64 are folded to the largest divisor d <= 64 (colour = PFN mod
 * d): each folded colour is a set of real colours, and different folded
 * colours still share no cache set. */
static void geo_init(void)
{
	long long best_level = 0, size = 0, ways = 0;
	for (int i = 0; i < 16; i++) {
		long long level = sysfs_num(i, "level");
		if (level < 0)
			continue;
		if (sysfs_num(i, "type") == -2 || level < best_level)
			continue;
		long long s = sysfs_num(i, "size");
		long long w = sysfs_num(i, "ways_of_associativity");
		if (s <= 0)
			continue;
		best_level = level;
		size = s;
		ways = w > 0 ? w : 0;
	}
	if (!size)
		return;
	long long hw = ways ? size / ways / (long long)VS_PG : 1;
	if (hw < 1)
		hw = 1;
	int d = 64;
	while (hw % d)
		d--;
	geo_colours = hw < 64 ? (int)hw : d;
}

int vs_colour_count(void)
{
	pthread_once(&geo_once, geo_init);
	return geo_colours;
}

int vs_colour_read(int pagemap, uintptr_t va, unsigned n, int ncolours,
		   int8_t *out)
{
	uint64_t e[VS_COLOUR_BATCH];
	size_t want = (size_t)n * sizeof(e[0]);
	ssize_t got;
	if (!n || n > VS_COLOUR_BATCH)
		return -EINVAL;
	do
		got = pread(pagemap, e, want, (off_t)(va / VS_PG) * 8);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)want)
		return got < 0 ? -errno : -EIO;
	for (unsigned k = 0; k < n; k++) {
		if (!(e[k] & PM_PRESENT)) {
			out[k] = -1;
			continue;
		}
		if (!(e[k] & PM_PFN))
			return -ENOTSUP; /* PFNs hidden: no CAP_SYS_ADMIN */
		out[k] = (int8_t)((e[k] & PM_PFN) % (uint64_t)ncolours);
	}
	return 0;
}

static volatile uint64_t probe_word;

int vs_colour_open(void)
{
	int n = vs_colour_count();
	if (n < 0)
		return n;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == EACCES || errno == EPERM
			   ? -ENOTSUP
			   : -errno;
	probe_word++; /* present, and not the shared zero page */
	int8_t c;
	int e = vs_colour_read(fd, (uintptr_t)&probe_word, 1, n, &c);
	if (e || c < 0) {
		close(fd);
		return e ? e : -ENOTSUP;
	}
	return fd;
}

int vspace_colours(void)
{
	int fd = vs_colour_open();
	if (fd < 0)
		return fd;
	close(fd);
	return vs_colour_count();
}
