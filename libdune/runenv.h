/* libdune/runenv.h: how `dune run` sets a process up, shared by the
 * preloaded shim (dynamic programs) and the loader (static programs). */
#ifndef DUNE_RUNENV_H
#define DUNE_RUNENV_H

struct dune_run_opts {
	const char *mode;  /* "ring0", "ring3", "auto" or NULL */
	const char *trace; /* "stderr", a file name, or NULL */
	int stats;	   /* print statistics at exit */
	const char *shim;  /* path of libdune_preload.so */
};

/* Exit status when dune itself cannot run the program (as env(1)). */
#define DUNE_EXIT_FAILURE 125

/* dune_init() with the options, the trace fd, and the environment that
 * keeps exec'd programs under dune; then dune_enter(). Prints the reason
 * and returns -1 on failure, 0 inside the guest. */
int dune_run_enter(const struct dune_run_opts *o);

#endif
