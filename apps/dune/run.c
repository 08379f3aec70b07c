/* apps/dune/run.c: `dune run`: run an unmodified program under dune.
 *
 * Mechanism: a dynamically linked program is exec'd with libdune_preload.so
 * preloaded; its constructor enters the guest before the program's own
 * code runs, and hides dune's variables from the program's environment. A
 * statically linked one is loaded into this process after it entered the
 * guest (loader.c). Programs the program execs are kept under dune by the
 * vmm. docs/architecture.md explains the choice. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "runenv.h"

/* Shell conventions (bash): 127 not found, 126 found but not runnable. */
#define EXIT_NOTFOUND 127
#define EXIT_NOEXEC 126
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fputs(
	    "usage: dune run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	    "\n"
	    "Run PROGRAM inside a KVM guest with the same PID, files,\n"
	    "environment and exit status as without dune.\n"
	    "\n"
	    "options:\n"
	    "  --mode ring0|ring3|auto  privilege mode of the program in the\n"
	    "                           guest (default auto: ring0 with VT-x/\n"
	    "                           AMD-V, ring3 on software KVM)\n"
	    "  --trace[=FILE]           log every forwarded syscall (name,\n"
	    "                           arguments, result) to stderr or FILE\n"
	    "  --stats                  print exits, syscalls, faults, "
	    "signals\n"
	    "                           and time in the monitor at exit\n"
	    "  --argv0 NAME             run PROGRAM with argv[0] = NAME\n"
	    "  --help                   this help\n"
	    "\n"
	    "exit status: the program's; 125 if dune itself failed, 126 if\n"
	    "PROGRAM cannot be executed, 127 if it was not found.\n",
	    f);
}

/* Find prog the way execvp(3) would. */
static int resolve(const char *prog, char *out, size_t len)
{
	if (strchr(prog, '/')) {
		snprintf(out, len, "%s", prog);
		return access(out, F_OK) ? -errno : 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int seen_eacces = 0;
	for (const char *p = path; *p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		snprintf(out, len, "%.*s/%s", (int)n, n ? p : ".", prog);
		struct stat st;
		if (!stat(out, &st) && S_ISREG(st.st_mode)) {
			if (!access(out, X_OK))
				return 0;
			seen_eacces = 1;
		}
		p = c ? c + 1 : p + n;
	}
	return seen_eacces ? -EACCES : -ENOENT;
}

/* Check what execve would be asked to run. Returns 0 or prints why not
 * and returns the exit status; *is_static tells how to start it. */
static int check_program(const char *shown, const char *path, int *is_static)
{
	struct stat st;
	if (stat(path, &st)) {
		fprintf(stderr, "dune: %s: %s\n", shown, strerror(errno));
		return EXIT_NOTFOUND;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "dune: %s: Is a directory\n", shown);
		return EXIT_NOEXEC;
	}
	if (access(path, X_OK)) {
		fprintf(stderr, "dune: %s: Permission denied\n", shown);
		return EXIT_NOEXEC;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "dune: %s: %s\n", shown, strerror(errno));
		return EXIT_NOEXEC;
	}
	char magic[4] = {0};
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	if (n >= 2 && magic[0] == '#' && magic[1] == '!') {
		close(fd); /* a script: its interpreter runs under dune */
		return 0;
	}
	if (n < 4 || memcmp(magic, ELFMAG, SELFMAG)) {
		close(fd);
		fprintf(stderr,
			"dune: %s: cannot execute: not an ELF executable "
			"or a #! script (Exec format error)\n",
			shown);
		return EXIT_NOEXEC;
	}
	int rc = 0;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	if (!e || !gelf_getehdr(e, &eh)) {
		fprintf(stderr,
			"dune: %s: cannot execute: malformed ELF (%s)\n", shown,
			elf_errmsg(-1));
		rc = EXIT_NOEXEC;
	} else if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
		   eh.e_machine != EM_X86_64) {
		fprintf(stderr,
			"dune: %s: cannot execute binary file: ELF for "
			"another architecture (e_machine %d, %d-bit); "
			"dune runs x86-64 programs\n",
			shown, eh.e_machine,
			eh.e_ident[EI_CLASS] == ELFCLASS64 ? 64 : 32);
		rc = EXIT_NOEXEC;
	} else if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		fprintf(stderr,
			"dune: %s: cannot execute: ELF is not an "
			"executable (type %d)\n",
			shown, eh.e_type);
		rc = EXIT_NOEXEC;
	} else {
		size_t nph = 0;
		int dynamic = 0;
		elf_getphdrnum(e, &nph);
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) &&
			    ph.p_type == PT_INTERP)
				dynamic = 1;
		}
		*is_static = !dynamic;
	}
	if (e)
		elf_end(e);
	close(fd);
	return rc;
}

static int find_shim(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	*slash = 0;
	const char *cands[] = {"%s/libdune_preload.so",
			       "%s/../lib/dune/libdune_preload.so"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(out, len, cands[i], exe);
		char real[PATH_MAX];
		if (realpath(out, real) && !access(real, R_OK)) {
			snprintf(out, len, "%s", real);
			return 0;
		}
	}
	return -1;
}

int cmd_run(int argc, char **argv)
{
	const char *mode = NULL, *trace = NULL;
	char *argv0 = NULL;
	int stats = 0, i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--mode") || !strncmp(a, "--mode=", 7)) {
			mode = a[6] == '=' ? a + 7
					   : (i + 1 < argc ? argv[++i] : "");
			if (strcmp(mode, "ring0") && strcmp(mode, "ring3") &&
			    strcmp(mode, "auto")) {
				fprintf(stderr,
					"dune run: --mode must be ring0, "
					"ring3 or auto, not '%s'\n",
					mode);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--trace")) {
			trace = "stderr";
		} else if (!strncmp(a, "--trace=", 8)) {
			trace = a + 8;
			if (!*trace) {
				fprintf(stderr,
					"dune run: --trace= needs a file "
					"name\n");
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--argv0")) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"dune run: --argv0 needs a value\n");
				return EXIT_USAGE;
			}
			argv0 = argv[++i];
		} else if (!strcmp(a, "--stats")) {
			stats = 1;
		} else {
			fprintf(stderr,
				"dune run: unknown option '%s' (try dune "
				"run --help)\n",
				a);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "dune run: no PROGRAM given (try dune run "
				"--help)\n");
		return EXIT_USAGE;
	}
	const char *prog = argv[i];
	char path[PATH_MAX], shim[PATH_MAX];
	int r = resolve(prog, path, sizeof(path));
	if (r == -ENOENT) {
		fprintf(stderr, "dune: %s: %s\n", prog,
			strchr(prog, '/') ? "No such file or directory"
					  : "command not found");
		return EXIT_NOTFOUND;
	}
	if (r == -EACCES) {
		fprintf(stderr, "dune: %s: Permission denied\n", prog);
		return EXIT_NOEXEC;
	}
	int is_static = 0;
	r = check_program(prog, path, &is_static);
	if (r)
		return r;
	if (find_shim(shim, sizeof(shim))) {
		fprintf(stderr, "dune: cannot find libdune_preload.so next to "
				"the dune executable or in ../lib/dune/\n");
		return DUNE_EXIT_FAILURE;
	}
	if (argv0)
		argv[i] = argv0;
	if (is_static) {
		struct dune_run_opts o = {mode, trace, stats, shim};
		return run_static(path, argv + i, &o);
	}
	/* Our shim first; the user's own preloads after it. */
	const char *user = getenv("LD_PRELOAD");
	char *pre;
	if (asprintf(&pre, "%s%s%s", shim, user && *user ? ":" : "",
		     user && *user ? user : "") < 0)
		return 125;
	setenv("LD_PRELOAD", pre, 1);
	setenv("DUNE_RUN", "1", 1);
	free(pre);
	if (mode)
		setenv("DUNE_MODE", mode, 1);
	if (trace)
		setenv("DUNE_TRACE", trace, 1);
	if (stats)
		setenv("DUNE_STATS", "1", 1);
	execv(path, argv + i);
	int e = errno;
	fprintf(stderr, "dune: %s: %s\n", prog, strerror(e));
	return e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
