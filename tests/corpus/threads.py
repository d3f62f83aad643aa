# expect: {"threads": 4950, "futures": [0, 1, 4, 9, 16, 25, 36, 49], "lock": 400, "event": true, "local": [0, 1, 2, 3]}
"""Threads: threading (locks, events, conditions, thread-locals) and a thread pool."""
import concurrent.futures
import queue
import threading


def main():
    q = queue.Queue()
    lock = threading.Lock()
    box = {"n": 0}
    local = threading.local()
    seen = []

    def work(i):
        local.i = i
        for _ in range(100):
            with lock:
                box["n"] += 1
        q.put(i)
        seen.append(local.i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ev = threading.Event()
    threading.Timer(0.05, ev.set).start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
        squares = list(ex.map(lambda x: x * x, range(8)))
        total = sum(ex.map(lambda x: x, range(100)))
    return {"threads": total, "futures": squares, "lock": box["n"], "event": ev.wait(5),
            "local": sorted(seen)}
