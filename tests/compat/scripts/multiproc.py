# tests/compat/scripts/multiproc.py: multiprocessing (fork start method):
# a process pool, a shared Value with a lock, and a Queue.
import multiprocessing as mp


def square(x):
    return x * x


def add(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def feed(q):
    for i in range(5):
        q.put(i * 3)
    q.put(None)


if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(4) as pool:
        print("pool:", sum(pool.map(square, range(100))))
    v = mp.Value("i", 0)
    ps = [mp.Process(target=add, args=(v, 50)) for _ in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("shared value:", v.value, "exit codes:", [p.exitcode for p in ps])
    q = mp.Queue()
    p = mp.Process(target=feed, args=(q,))
    p.start()
    items = []
    while (x := q.get()) is not None:
        items.append(x)
    p.join()
    print("queue:", items)
