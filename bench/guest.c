/* bench/guest.c: a forked child that enters the guest and serves timed
 * loops to its parent, so native and guest runs can be interleaved. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "dune/dune.h"

/* Whole-message pipe I/O (messages are far below PIPE_BUF, so a read
 * returns a whole message or nothing unless interrupted). */
static int xfer(int fd, void *buf, size_t len, int wr)
{
	char *p = buf;
	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static _Noreturn void child_main(int req_fd, int resp_fd, bench_guest_fn fn)
{
	struct bench_msg m;
	memset(&m, 0, sizeof(m));
	int r = dune_init_and_enter(DUNE_MODE_AUTO, DUNE_INIT_QUIET);
	if (r) {
		fprintf(stderr, "bench: cannot enter the guest: %s (%s)\n",
			strerror(-r), dune_strerror_detail());
		m.err = -r;
	} else if (!bench_inside()) {
		fprintf(stderr, "bench: dune_enter returned 0 but the thread "
				"is not inside (dune_is_inside or the syscall "
				"counter)\n");
		m.err = EPROTO;
	}
	m.result = (uint64_t)dune_get_mode();
	if (xfer(resp_fd, &m, sizeof(m), 1) || m.err)
		_exit(1);
	for (;;) {
		if (xfer(req_fd, &m, sizeof(m), 0) || m.op < 0)
			_exit(0);
		m.err = 0;
		fn(&m);
		if (xfer(resp_fd, &m, sizeof(m), 1))
			_exit(1);
	}
}

int bench_guest_start(struct bench_guest *g, bench_guest_fn fn)
{
	int req[2], resp[2];
	if (pipe(req))
		return -errno;
	if (pipe(resp)) {
		int e = errno;
		close(req[0]);
		close(req[1]);
		return -e;
	}
	/* A dead child must give EPIPE, not kill the harness. */
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL); /* the child must not flush the parent's buffers */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(req[0]);
		close(req[1]);
		close(resp[0]);
		close(resp[1]);
		return -e;
	}
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		child_main(req[0], resp[1], fn);
	}
	close(req[0]);
	close(resp[1]);
	g->pid = pid;
	g->req_fd = req[1];
	g->resp_fd = resp[0];
	struct bench_msg m;
	int r = xfer(g->resp_fd, &m, sizeof(m), 0);
	if (!r && m.err)
		r = -m.err;
	if (r) {
		bench_guest_stop(g);
		return r;
	}
	g->mode = (int)m.result;
	return 0;
}

int bench_guest_call(struct bench_guest *g, struct bench_msg *m)
{
	int r = xfer(g->req_fd, m, sizeof(*m), 1);
	if (!r)
		r = xfer(g->resp_fd, m, sizeof(*m), 0);
	if (!r && m->err)
		r = -m->err;
	return r;
}

void bench_guest_stop(struct bench_guest *g)
{
	struct bench_msg m;
	memset(&m, 0, sizeof(m));
	m.op = -1;
	(void)xfer(g->req_fd, &m, sizeof(m), 1);
	close(g->req_fd);
	close(g->resp_fd);
	int st;
	while (waitpid(g->pid, &st, 0) < 0 && errno == EINTR)
		;
	g->pid = -1;
}
