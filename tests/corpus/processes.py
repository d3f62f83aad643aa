# expect: {"fork": 42, "waitpid": 3, "process": 0, "pipe": "ping", "pool": "worked", "queue": "worked", "executor": "worked"}
"""Processes: os.fork, multiprocessing (Process, Pipe, Pool, Queue) and a process pool.

glibc's sem_open puts the semaphores of multiprocessing's locks in /dev/shm, which in both jails
is the request's own /tmp: Pool, Queue and ProcessPoolExecutor work."""
import concurrent.futures
import multiprocessing
import os


def square(x):
    return x * x


def child(conn):
    conn.send("ping")


def fails(make):
    try:
        make()
    except OSError as exc:
        return type(exc).__name__
    return "worked"


def pool():
    with multiprocessing.get_context("fork").Pool(2) as p:
        return p.map(square, range(5))


def executor():
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        return list(ex.map(square, range(3)))


def main():
    pid = os.fork()
    if pid == 0:
        os._exit(42)
    _, status = os.waitpid(pid, 0)
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    waited = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    ctx = multiprocessing.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=child, args=(b,))
    p.start()
    got = a.recv()
    p.join()
    return {"fork": os.waitstatus_to_exitcode(status), "waitpid": waited, "process": p.exitcode,
            "pipe": got, "pool": fails(pool), "queue": fails(ctx.Queue), "executor": fails(executor)}
