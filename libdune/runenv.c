/* libdune/runenv.c: enter the guest as `dune run` asked (see runenv.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dune/dune.h"
#include "runenv.h"

static int open_trace(const char *spec)
{
	/* A high, close-on-exec fd the program is unlikely to touch. */
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

static enum dune_mode mode_of(const char *s)
{
	if (s && !strcmp(s, "ring0"))
		return DUNE_MODE_RING0;
	if (s && !strcmp(s, "ring3"))
		return DUNE_MODE_RING3;
	return DUNE_MODE_AUTO;
}

int dune_run_enter(const struct dune_run_opts *o)
{
	char e_preload[4096], e_mode[64], e_trace[4096];
	const char *env[6];
	int n = 0, tfd = -1;

	snprintf(e_preload, sizeof(e_preload), "LD_PRELOAD=%s", o->shim);
	env[n++] = e_preload;
	env[n++] = "DUNE_RUN=1";
	if (o->mode && *o->mode) {
		snprintf(e_mode, sizeof(e_mode), "DUNE_MODE=%s", o->mode);
		env[n++] = e_mode;
	}
	if (o->trace && *o->trace) {
		snprintf(e_trace, sizeof(e_trace), "DUNE_TRACE=%s", o->trace);
		env[n++] = e_trace;
		tfd = open_trace(o->trace);
		if (tfd < 0) {
			fprintf(stderr, "dune: cannot open trace file %s: %s\n",
				o->trace, strerror(errno));
			return -1;
		}
	}
	if (o->stats)
		env[n++] = "DUNE_STATS=1";
	env[n] = NULL;

	if (o->mode && *o->mode && strcmp(o->mode, "ring0") &&
	    strcmp(o->mode, "ring3") && strcmp(o->mode, "auto")) {
		fprintf(stderr,
			"dune: DUNE_MODE='%s' is not one of ring0, "
			"ring3, auto\n",
			o->mode);
		return -1;
	}
	int r = dune_init(mode_of(o->mode), o->stats ? DUNE_INIT_STATS : 0);
	if (r)
		return -1; /* dune_init printed why */
	/* Exec'd static programs go through the dune command next to us. */
	const char *slash = strrchr(o->shim, '/');
	if (slash) {
		char loader[4096];
		snprintf(loader, sizeof(loader), "%.*s/dune",
			 (int)(slash - o->shim), o->shim);
		if (!access(loader, X_OK))
			dune_set_exec_loader(loader);
	}
	if (tfd >= 0)
		dune_set_trace_fd(tfd);
	dune_set_exec_env(env);
	r = dune_enter();
	if (r) {
		fprintf(stderr, "dune: cannot enter the guest: %s\n",
			strerror(-r));
		return -1;
	}
	return 0;
}
