/* libdune/preload.c: the entry shim `dune run` preloads into a dynamically
 * linked program. Its constructor runs before the main executable's own
 * (constructors of the program's shared libraries may run earlier, outside
 * the guest), strips dune's variables from the environment (the program
 * sees the environment it was given), and enters the guest; exec'd
 * programs get the shim again through dune_set_exec_env()
 * (libdune/runenv.c). It acts only when DUNE_RUN is set: the dune command
 * links this library too. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runenv.h"

__attribute__((constructor)) static void dune_preload_enter(void)
{
	const char *preload = getenv("LD_PRELOAD");
	char shim[4096], mode[64], trace[4096];
	struct dune_run_opts o = {0};

	/* Only in a program dune run started (or one it exec'd): the dune
	 * command itself links this library and may have a user's
	 * LD_PRELOAD. */
	if (!preload || !getenv("DUNE_RUN"))
		return;
	/* Our own entry is the first in LD_PRELOAD (dune run puts it there). */
	const char *colon = strchr(preload, ':');
	snprintf(shim, sizeof(shim), "%.*s",
		 (int)(colon ? (size_t)(colon - preload) : strlen(preload)),
		 preload);
	o.shim = shim;
	if (getenv("DUNE_MODE")) {
		snprintf(mode, sizeof(mode), "%s", getenv("DUNE_MODE"));
		o.mode = mode;
	}
	if (getenv("DUNE_TRACE")) {
		snprintf(trace, sizeof(trace), "%s", getenv("DUNE_TRACE"));
		o.trace = trace;
	}
	o.stats = getenv("DUNE_STATS") != NULL;

	/* The program sees the environment it was given: LD_PRELOAD keeps
	 * only the user's own entries (after ours). */
	if (colon && colon[1])
		setenv("LD_PRELOAD", colon + 1, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv("DUNE_RUN");
	unsetenv("DUNE_MODE");
	unsetenv("DUNE_TRACE");
	unsetenv("DUNE_STATS");

	if (dune_run_enter(&o))
		_exit(DUNE_EXIT_FAILURE);
}
