/* apps/dune/main.c: the `dune` command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dune/abi.h"
#include "dune/dune.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: dune COMMAND [ARGS]\n"
	    "\n"
	    "Run ordinary Linux programs with direct access to privileged CPU\n"
	    "features, inside a KVM guest that keeps the process's PID, files\n"
	    "and addresses.\n"
	    "\n"
	    "commands:\n"
	    "  run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	    "                     run PROGRAM under dune (see dune run "
	    "--help)\n"
	    "  info               host virtualization, KVM capabilities, the\n"
	    "                     mode dune picks, and measured exit/fault "
	    "costs\n"
	    "  --help, -h         this help\n"
	    "  --version          print the version\n"
	    "\n"
	    "environment: DUNE_MODE=ring0|ring3|auto overrides the mode.\n",
	    f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("dune %s (ABI %d)\n", DUNE_VERSION, DUNE_ABI_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "dune: unknown command '%s' (try dune --help)\n", cmd);
	return 2;
}
