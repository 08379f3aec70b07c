# tests/compat/scripts/threads.py: Python threads (each a vCPU under dune):
# a pool, a producer/consumer queue, conditions, thread-local data, and a
# SIGALRM handler in the main thread while workers run. Deterministic.
import hashlib
import queue
import signal
import threading
from concurrent.futures import ThreadPoolExecutor


def work(n):
    h = hashlib.sha256()
    for i in range(2000):
        h.update(f"{n}:{i}".encode())
    return n, h.hexdigest()[:16]


with ThreadPoolExecutor(max_workers=16) as ex:
    for n, d in sorted(ex.map(work, range(32))):
        if n % 8 == 0:
            print("pool", n, d)

q = queue.Queue(maxsize=10)
results = []
lock = threading.Lock()


def producer(base):
    for i in range(200):
        q.put(base + i)


def consumer():
    while True:
        item = q.get()
        if item is None:
            return
        with lock:
            results.append(item * item)


cons = [threading.Thread(target=consumer) for _ in range(4)]
prods = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(4)]
for t in cons + prods:
    t.start()
for t in prods:
    t.join()
for _ in cons:
    q.put(None)
for t in cons:
    t.join()
print("queue items", len(results), "sum", sum(results))

local = threading.local()
seen = {}


def tl(i):
    local.value = i * 10
    barrier.wait()
    seen[i] = local.value


barrier = threading.Barrier(8)
ts = [threading.Thread(target=tl, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("thread-local", [seen[i] for i in range(8)])

cond = threading.Condition()
turn = [0]
order = []


def taker(i):
    with cond:
        while turn[0] != i:
            cond.wait()
        order.append(i)
        turn[0] += 1
        cond.notify_all()


ts = [threading.Thread(target=taker, args=(i,)) for i in reversed(range(6))]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("condition order", order)

ticks = []
signal.signal(signal.SIGALRM, lambda s, f: ticks.append(s))
stop = threading.Event()
spinner = threading.Thread(target=lambda: [stop.wait(0.01) for _ in range(1000) if not stop.is_set()])
spinner.start()
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
while len(ticks) < 5:
    signal.pause()
signal.setitimer(signal.ITIMER_REAL, 0)
stop.set()
spinner.join()
print("SIGALRM in main thread while a worker runs:", len(ticks) >= 5)
print("threads alive at end:", threading.active_count())
