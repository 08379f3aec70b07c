/* apps/dune/cli.h: the `dune` command's subcommands. */
#ifndef DUNE_CLI_H
#define DUNE_CLI_H

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

struct dune_run_opts;
/* Load and run a statically linked program in this process, under dune
 * (does not return on success; returns an exit status on failure). */
int run_static(const char *path, char **argv, const struct dune_run_opts *o);

#endif
