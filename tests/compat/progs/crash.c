/* tests/compat/progs/crash.c: die the way a buggy program does; the runner
 * compares the wait status. usage: crash segv|abort|fpe|ill|stack|thread|
 * kill|exit. Each prints a line first (flushed output must survive). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int zero;
static int *volatile null_ptr;
static volatile int stack_limit = 1 << 30;

static int recurse(int n)
{
	volatile char pad[4096];
	pad[0] = (char)n;
	if (n > stack_limit)
		return 0;
	return recurse(n + 1) + pad[0];
}

static void *thread_crash(void *arg)
{
	(void)arg;
	*null_ptr = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	printf("about to: %s\n", m);
	fflush(stdout);
	fputs("stderr before the crash\n", stderr);
	if (!strcmp(m, "segv"))
		*null_ptr = 1;
	else if (!strcmp(m, "abort"))
		abort();
	else if (!strcmp(m, "fpe"))
		return 10 / zero;
	else if (!strcmp(m, "ill"))
		__asm__ volatile("ud2");
	else if (!strcmp(m, "stack"))
		return recurse(0);
	else if (!strcmp(m, "thread")) {
		pthread_t t;
		pthread_create(&t, NULL, thread_crash, NULL);
		pthread_join(t, NULL);
	} else if (!strcmp(m, "kill"))
		kill(getpid(), SIGKILL);
	else if (!strcmp(m, "exit")) {
		printf("buffered, never flushed by _exit");
		_exit(77);
	} else {
		fputs("usage: crash segv|abort|fpe|ill|stack|thread|kill|exit\n",
		      stderr);
		return 2;
	}
	puts("still alive?");
	return 1;
}
