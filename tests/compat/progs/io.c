/* tests/compat/progs/io.c: descriptors and kernel objects beyond plain
 * files: socketpair with SCM_RIGHTS fd passing to a child, TCP over
 * loopback with a server thread, epoll over eventfd/timerfd/pipe,
 * signalfd-free waiting, inotify, memfd with seals, sendfile and splice,
 * flock and fcntl record locks between processes, prctl names. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return (int)sendmsg(sock, &m, 0);
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int listen_fd;

static void *echo_server(void *arg)
{
	(void)arg;
	int c = accept(listen_fd, NULL, NULL);
	char buf[4096];
	ssize_t n;
	long total = 0;
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		total += n;
		if (write(c, buf, (size_t)n) != n)
			break;
	}
	close(c);
	return (void *)total;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);

	/* SCM_RIGHTS: the child receives an fd to a file it never opened. */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	int f = open("passed.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(f, "through a socket", 16) == 16, "write");
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		int got = recv_fd(sv[1]);
		char buf[32] = {0};
		ssize_t n = pread(got, buf, sizeof(buf) - 1, 0);
		printf("child got an fd: reads \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
		_exit(n == 16 ? 0 : 1);
	}
	close(sv[1]);
	CHECK(send_fd(sv[0], f) == 1, "sendmsg");
	int st;
	waitpid(c, &st, 0);
	printf("SCM_RIGHTS child status %d\n", WEXITSTATUS(st));
	close(f);
	close(sv[0]);

	/* TCP over loopback, server in a thread. */
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	socklen_t al = sizeof(a);
	getsockname(listen_fd, (struct sockaddr *)&a, &al);
	listen(listen_fd, 1);
	pthread_t th;
	pthread_create(&th, NULL, echo_server, NULL);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
	      strerror(errno));
	char out[65536], in[65536];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	size_t got = 0;
	CHECK(write(s, out, sizeof(out)) == (ssize_t)sizeof(out), "send");
	shutdown(s, SHUT_WR);
	ssize_t n;
	while ((n = read(s, in + got, sizeof(in) - got)) > 0)
		got += (size_t)n;
	void *total;
	pthread_join(th, &total);
	printf("TCP loopback echo: %zu bytes back, equal=%d, server saw %ld\n",
	       got, got == sizeof(out) && !memcmp(in, out, got), (long)total);
	close(s);
	close(listen_fd);

	/* epoll over an eventfd, a timerfd and a pipe. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	struct epoll_event e = {.events = EPOLLIN};
	e.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);
	e.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, tf, &e);
	e.data.u32 = 3;
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
	struct itimerspec its = {{0, 0}, {0, 30000000}};
	timerfd_settime(tf, 0, &its, NULL);
	uint64_t one = 5;
	CHECK(write(ev, &one, 8) == 8, "eventfd");
	CHECK(write(p[1], "p", 1) == 1, "pipe");
	int seen[4] = {0};
	int rounds = 0;
	while (!(seen[1] && seen[2] && seen[3]) && rounds++ < 10) {
		struct epoll_event evs[4];
		int k = epoll_wait(ep, evs, 4, 1000);
		for (int i = 0; i < k; i++) {
			uint64_t v;
			char ch;
			seen[evs[i].data.u32] = 1;
			if (evs[i].data.u32 == 1 && read(ev, &v, 8) == 8)
				printf("eventfd value %llu\n", (unsigned long long)v);
			if (evs[i].data.u32 == 2 && read(tf, &v, 8) == 8)
				printf("timerfd expirations %llu\n", (unsigned long long)v);
			if (evs[i].data.u32 == 3 && read(p[0], &ch, 1) == 1)
				printf("pipe byte %c\n", ch);
		}
	}
	close(ep);
	close(ev);
	close(tf);

	/* inotify */
	int in_fd = inotify_init1(IN_CLOEXEC);
	inotify_add_watch(in_fd, ".", IN_CREATE | IN_DELETE);
	close(open("watched.txt", O_WRONLY | O_CREAT, 0644));
	unlink("watched.txt");
	char ibuf[4096] __attribute__((aligned(8)));
	n = read(in_fd, ibuf, sizeof(ibuf));
	for (char *q = ibuf; n > 0 && q < ibuf + n;) {
		struct inotify_event *ie = (struct inotify_event *)(void *)q;
		printf("inotify: %s %s\n", ie->mask & IN_CREATE ? "create" : "delete",
		       ie->len ? ie->name : "");
		q += sizeof(*ie) + ie->len;
	}
	close(in_fd);

	/* memfd with seals, mapped. */
	int mfd = memfd_create("compat", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(ftruncate(mfd, 8192) == 0, "ftruncate");
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	strcpy(m + 4096, "memfd data");
	munmap(m, 8192);
	fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	errno = 0;
	int tr = ftruncate(mfd, 100);
	char mb[16] = {0};
	CHECK(pread(mfd, mb, 10, 4096) == 10, "pread");
	printf("memfd: %s; sealed shrink: %s\n", mb,
	       tr < 0 && errno == EPERM ? "EPERM" : "allowed?");

	/* sendfile from the memfd, splice through a pipe. */
	int dst = open("copy.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	off_t off = 4096;
	printf("sendfile: %zd\n", sendfile(dst, mfd, &off, 10));
	loff_t lo = 0;
	ssize_t sp1 = splice(dst, &lo, p[1], NULL, 10, 0);
	char sb[16] = {0};
	printf("splice: %zd then read \"%.*s\"\n", sp1,
	       (int)read(p[0], sb, sizeof(sb)), sb);
	close(dst);
	close(mfd);

	/* flock and fcntl locks contended by a child. */
	int lf = open("lock.file", O_RDWR | O_CREAT, 0644);
	CHECK(flock(lf, LOCK_EX) == 0, "flock");
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = 0, .l_len = 10};
	CHECK(fcntl(lf, F_SETLK, &fl) == 0, "setlk");
	c = fork();
	if (c == 0) {
		int cf = open("lock.file", O_RDWR);
		int r1 = flock(cf, LOCK_EX | LOCK_NB);
		int e1 = errno;
		struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
				  .l_start = 5, .l_len = 1};
		int r2 = fcntl(cf, F_GETLK, &g);
		printf("child: flock %s, F_GETLK finds %s held by parent=%d\n",
		       r1 < 0 && e1 == EWOULDBLOCK ? "EWOULDBLOCK" : "granted?",
		       g.l_type == F_WRLCK ? "write lock" : "none",
		       r2 == 0 && g.l_pid == getppid());
		_exit(0);
	}
	waitpid(c, &st, 0);
	close(lf);

	/* Thread names through prctl and /proc. */
	prctl(PR_SET_NAME, "compat-io");
	char comm[32] = {0};
	int cfd = open("/proc/self/comm", O_RDONLY);
	n = read(cfd, comm, sizeof(comm) - 1);
	close(cfd);
	printf("comm: %s", n > 0 ? comm : "?\n");
	return check_done("io");
}
