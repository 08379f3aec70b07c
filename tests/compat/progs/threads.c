/* tests/compat/progs/threads.c: many threads (each a vCPU under dune)
 * synchronising with mutex/condvar rounds, a raw-futex relay and a
 * barrier, with per-thread TLS, errno and thread-specific data checked
 * after every blocking step. usage: threads [NTHREADS]
 * threads cancel: pthread_cancel of a blocked and of a spinning thread
 * (glibc's SIGCANCEL), setuid/setgid with threads running (glibc's
 * SIGSETXID broadcast), and exit while a thread is blocked in read().
 * threads churn: more short-lived threads over time (1100 detached, then
 * 10 x 64 joined) than a VM has vCPUs at once (1024 on most KVMs). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define MAXT 512
#define ROUNDS 5

static int nthreads;
static __thread int tls_id = -1;
static __thread char tls_buf[200];
static __thread uint64_t tls_init = 0x5eed5eed; /* .tdata, not .tbss */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int arrived, generation;
static long counter;

static _Atomic uint32_t relay[MAXT + 1];
static int relay_order[MAXT], relay_pos;
static pthread_barrier_t bar;
static pthread_key_t key;
static atomic_int destructed, tls_bad;
static pid_t tids[MAXT];

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void tls_check(int id, const char *where)
{
	int bad = tls_id != id || tls_init != 0x5eed5eed + (uint64_t)id;
	for (size_t i = 0; i < sizeof(tls_buf); i++)
		bad |= tls_buf[i] != (char)(id + (int)i);
	bad |= (intptr_t)pthread_getspecific(key) != id + 1;
	bad |= errno != 1000 + id;
	if (bad) {
		atomic_fetch_add(&tls_bad, 1);
		printf("FAIL thread %d: TLS/errno/key wrong after %s\n", id, where);
	}
}

static void destructor(void *p)
{
	if (p)
		atomic_fetch_add(&destructed, 1);
}

static void round_barrier(void)
{
	pthread_mutex_lock(&mu);
	int gen = generation;
	counter++;
	if (++arrived == nthreads) {
		arrived = 0;
		generation++;
		pthread_cond_broadcast(&cv);
	} else {
		while (gen == generation)
			pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	tls_id = id;
	tls_init += (uint64_t)id;
	for (size_t i = 0; i < sizeof(tls_buf); i++)
		tls_buf[i] = (char)(id + (int)i);
	pthread_setspecific(key, (void *)(intptr_t)(id + 1));
	tids[id] = (pid_t)syscall(SYS_gettid);
	errno = 1000 + id;

	for (int r = 0; r < ROUNDS; r++) {
		round_barrier();
		errno = 1000 + id; /* the libc calls above may set it */
		tls_check(id, "condvar round");
	}

	/* Futex relay: thread i waits for its word, then passes it on. */
	while (atomic_load(&relay[id]) == 0)
		futex(&relay[id], FUTEX_WAIT_PRIVATE, 0);
	relay_order[relay_pos++] = id; /* serialised by the relay */
	atomic_store(&relay[id + 1], 1);
	futex(&relay[id + 1], FUTEX_WAKE_PRIVATE, 1);
	errno = 1000 + id;
	tls_check(id, "futex relay");

	pthread_barrier_wait(&bar);
	errno = 1000 + id;
	tls_check(id, "barrier");
	return (void *)(intptr_t)(id * 3);
}

static int cancel_pipe[2];

static void *blocker(void *arg)
{
	(void)arg;
	char c;
	while (read(cancel_pipe[0], &c, 1) >= 0)
		;
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	for (;;)
		pthread_testcancel();
	return NULL;
}

static int test_cancel(void)
{
	CHECK(pipe(cancel_pipe) == 0, "pipe");
	pthread_t t1, t2, t3;
	void *r;
	pthread_create(&t1, NULL, blocker, NULL);
	pthread_create(&t2, NULL, spinner, NULL);
	usleep(10000);
	pthread_cancel(t1);
	pthread_join(t1, &r);
	printf("cancel a thread blocked in read: %s\n",
	       r == PTHREAD_CANCELED ? "canceled" : "not canceled");
	pthread_cancel(t2);
	pthread_join(t2, &r);
	printf("cancel a spinning thread: %s\n",
	       r == PTHREAD_CANCELED ? "canceled" : "not canceled");
	pthread_create(&t3, NULL, blocker, NULL);
	usleep(10000);
	printf("setgid with threads: %d\n", setgid(getgid()));
	printf("setuid with threads: %d\n", setuid(getuid()));
	printf("exit 3 with a thread blocked in read\n");
	fflush(stdout);
	return 3;
}

static void *doubler(void *arg)
{
	return (void *)((intptr_t)arg * 2);
}

static int test_churn(void)
{
	for (int i = 0; i < 1100; i++) {
		pthread_t t;
		int r = pthread_create(&t, NULL, doubler, (void *)(intptr_t)i);
		if (r) {
			printf("pthread_create %d: %s\n", i, strerror(r));
			return 1;
		}
		pthread_detach(t);
	}
	printf("1100 detached threads created\n");
	long sum = 0;
	pthread_t ts[64];
	for (int k = 0; k < 10; k++) {
		for (int i = 0; i < 64; i++)
			pthread_create(&ts[i], NULL, doubler, (void *)(intptr_t)i);
		for (int i = 0; i < 64; i++) {
			void *r;
			pthread_join(ts[i], &r);
			sum += (intptr_t)r;
		}
	}
	printf("10 x 64 joined, sum %ld\n", sum);
	CHECK(sum == 10L * 64 * 63, "sum");
	return check_done("churn");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "cancel"))
		return test_cancel();
	if (argc > 1 && !strcmp(argv[1], "churn"))
		return test_churn();
	nthreads = argc > 1 ? atoi(argv[1]) : 200;
	if (nthreads < 1 || nthreads > MAXT)
		return 2;
	pthread_t th[MAXT];
	pthread_key_create(&key, destructor);
	pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
	for (int i = 0; i < nthreads; i++) {
		int r = pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
		CHECK(r == 0, "pthread_create %d: %s", i, strerror(r));
	}
	/* Start the relay after everyone is likely asleep on it. */
	atomic_store(&relay[0], 1);
	futex(&relay[0], FUTEX_WAKE_PRIVATE, 1);
	long retsum = 0;
	for (int i = 0; i < nthreads; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		retsum += (intptr_t)ret;
	}
	int in_order = 1;
	for (int i = 0; i < nthreads; i++)
		in_order &= relay_order[i] == i;
	int distinct = 1;
	pid_t me = getpid();
	for (int i = 0; i < nthreads; i++) {
		distinct &= tids[i] != me && tids[i] > 0;
		for (int j = 0; j < i && distinct; j++)
			distinct &= tids[i] != tids[j];
	}
	printf("threads %d\n", nthreads);
	printf("condvar counter %ld (expect %d)\n", counter, nthreads * ROUNDS);
	printf("futex relay in order: %s\n", in_order ? "yes" : "no");
	printf("join values sum %ld\n", retsum);
	printf("distinct tids: %s\n", distinct ? "yes" : "no");
	printf("key destructors %d\n", atomic_load(&destructed));
	printf("main tls untouched: %s\n",
	       tls_id == -1 && tls_init == 0x5eed5eed ? "yes" : "no");
	CHECK(counter == (long)nthreads * ROUNDS, "counter %ld", counter);
	CHECK(in_order, "relay order");
	CHECK(distinct, "tids");
	CHECK(atomic_load(&destructed) == nthreads, "destructors");
	CHECK(atomic_load(&tls_bad) == 0, "tls");
	CHECK(retsum == 3L * nthreads * (nthreads - 1) / 2, "join");
	return check_done("threads");
}
