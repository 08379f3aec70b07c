/* libdune/preload.c: the entry shim `dune run` preloads into a dynamically
 * linked program. Its constructor runs before the program's own, strips
 * dune's variables from the environment (the program sees the environment
 * it was given), and enters the guest; exec'd programs get the shim again
 * through dune_set_exec_env(). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dune/dune.h"

/* Exit status when dune itself cannot run the program (as env(1)). */
#define DUNE_EXIT_FAILURE 125

static int open_trace(const char *spec)
{
	if (!strcmp(spec, "stderr"))
		return fcntl(2, F_DUPFD_CLOEXEC, 1000);
	int fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
		close(fd);
		fd = hi;
	}
	return fd;
}

__attribute__((constructor)) static void dune_preload_enter(void)
{
	const char *preload = getenv("LD_PRELOAD");
	const char *mode_s = getenv("DUNE_MODE");
	const char *trace = getenv("DUNE_TRACE");
	const char *stats = getenv("DUNE_STATS");
	enum dune_mode mode = DUNE_MODE_AUTO;
	char e_preload[4096], e_mode[64], e_trace[4096];
	const char *env[5];
	int n = 0;

	if (!preload)
		return; /* not started by dune run */
	/* Our own entry is the first in LD_PRELOAD (dune run puts it there). */
	const char *colon = strchr(preload, ':');
	size_t ours = colon ? (size_t)(colon - preload) : strlen(preload);
	snprintf(e_preload, sizeof(e_preload), "LD_PRELOAD=%.*s", (int)ours,
		 preload);
	env[n++] = e_preload;
	if (mode_s && *mode_s) {
		snprintf(e_mode, sizeof(e_mode), "DUNE_MODE=%s", mode_s);
		env[n++] = e_mode;
		if (!strcmp(mode_s, "ring0"))
			mode = DUNE_MODE_RING0;
		else if (!strcmp(mode_s, "ring3"))
			mode = DUNE_MODE_RING3;
	}
	if (trace && *trace) {
		snprintf(e_trace, sizeof(e_trace), "DUNE_TRACE=%s", trace);
		env[n++] = e_trace;
	}
	if (stats && *stats)
		env[n++] = "DUNE_STATS=1";
	env[n] = NULL;

	int tfd = trace && *trace ? open_trace(trace) : -1;
	if (trace && *trace && tfd < 0) {
		fprintf(stderr, "dune: cannot open trace file %s: %s\n", trace,
			strerror(errno));
		_exit(DUNE_EXIT_FAILURE);
	}
	/* The program sees the environment it was given: LD_PRELOAD keeps
	 * only the user's own entries (after ours). */
	if (colon && colon[1])
		setenv("LD_PRELOAD", colon + 1, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv("DUNE_MODE");
	unsetenv("DUNE_TRACE");
	unsetenv("DUNE_STATS");

	unsigned flags = stats && *stats ? DUNE_INIT_STATS : 0;
	int r = dune_init(mode, flags);
	if (r)
		_exit(DUNE_EXIT_FAILURE); /* dune_init printed why */
	if (tfd >= 0)
		dune_set_trace_fd(tfd);
	dune_set_exec_env(env);
	r = dune_enter();
	if (r) {
		fprintf(stderr, "dune: cannot enter the guest: %s\n",
			strerror(-r));
		_exit(DUNE_EXIT_FAILURE);
	}
}
