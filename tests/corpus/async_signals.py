# expect: {"asyncio": [1, 2, 3], "gather": true, "alarm": true, "select": true, "selectors": "x", "sleep": true, "subprocess_exec": "ok\n", "socketpair": "x"}
"""asyncio.run with sleeps and a subprocess, signal handlers and alarms, select and selectors."""
import asyncio
import os
import select
import selectors
import signal
import socket
import sys
import time


async def tick(i):
    await asyncio.sleep(0.01 * i)
    return i


async def run():
    t0 = time.monotonic()
    got = await asyncio.gather(*(tick(i) for i in (3, 1, 2)))
    waited = time.monotonic() - t0
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "print('ok')",
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return sorted(got), waited, out.decode()


def main():
    got, waited, out = asyncio.run(run())
    fired = []
    signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.02)
    time.sleep(0.2)
    signal.signal(signal.SIGUSR1, lambda *_: fired.append(2))
    os.kill(os.getpid(), signal.SIGUSR1)
    r, w = os.pipe()
    os.write(w, b"x")
    ready, _, _ = select.select([r], [], [], 1)
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    events = sel.select(1)
    data = os.read(events[0][0].fd, 1).decode()
    sel.close()
    poll = select.poll()
    poll.register(w, select.POLLOUT)
    # Left open: at exit the interpreter's "unclosed socket" warning asks for both addresses.
    left_a, left_b = socket.socketpair()
    left_a.send(b"x")
    t0 = time.perf_counter()
    time.sleep(0.01)
    return {"asyncio": got, "gather": waited >= 0.03, "alarm": fired == [1, 2],
            "select": ready == [r] and bool(poll.poll(100)), "selectors": data,
            "sleep": time.perf_counter() - t0 >= 0.01 and time.process_time() > 0,
            "subprocess_exec": out, "socketpair": left_b.recv(1).decode()}
