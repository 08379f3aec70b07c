/* apps/dune/cli.h: the `dune` command's subcommands. */
#ifndef DUNE_CLI_H
#define DUNE_CLI_H

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
