#!/usr/bin/python3
"""pyexecd load suite: bounded floods against a daemon under a low open-file limit.

    tests/load_test.py --url http://127.0.0.1:PORT --daemon-pid PID [--idle-ms N ...]

tests/run-suite.sh starts the daemon for it under `prlimit --nofile=256:256` (as in small
images), with PYEXECD_TEST_DAEMON_LOG naming its log. Every phase is bounded in time and talks
to 127.0.0.1 only:
  - 64 keep-alive clients mixing valid, invalid and hostile requests for LOAD_SECONDS: every
    answer must be the right one (a script's own result, or 503 ServerBusy with Retry-After);
  - a flood of idle and half-sent connections past the connection cap, and one with accept()
    failing (the daemon's open-file limit lowered under it): the daemon must pause its listener,
    not spin (its CPU time is read from /proc), and log a bounded number of lines;
  - a slowloris: every trickling client gets its 408;
then /health is 200, scripts run, and the daemon's descriptors, threads and RSS are back to what
they were before (read from /proc/PID), and its log grew by a bounded amount.
"""

import os
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import (CFG, RawConn, TestFailure, check, execute_body, expect_healthy,  # noqa: E402
                     expect_serving, http_request_bytes, main, test)

LOAD_SECONDS = 4
CLIENTS = 64
FLOOD = 600          # connections, several times the cap under nofile 256
LOG_GROWTH = 256 * 1024
BASELINE = {}


def proc_status():
    pid = CFG.daemon_pid
    fields = dict(line.split(":", 1) for line in open("/proc/%d/status" % pid) if ":" in line)
    return {"fds": len(os.listdir("/proc/%d/fd" % pid)), "threads": int(fields["Threads"]),
            "rss_kb": int(fields["VmRSS"].split()[0])}


def cpu_seconds():
    stat = open("/proc/%d/stat" % CFG.daemon_pid).read().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def log_path():
    return os.environ.get("PYEXECD_TEST_DAEMON_LOG", "")


def log_text():
    try:
        with open(log_path(), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


@test
def baseline_after_a_warm_up():
    if not CFG.daemon_pid or not log_path():
        raise TestFailure("needs --daemon-pid and PYEXECD_TEST_DAEMON_LOG")
    expect_serving()
    time.sleep(1)  # the ready sandboxes are made again
    BASELINE.update(proc_status())
    BASELINE["log"] = len(log_text())
    print("# baseline: %r" % BASELINE, flush=True)


# --------------------------------------------------------------------------------------------
# 64 keep-alive clients


HOSTILE = [  # (request, status): each on a connection of its own, answered and closed
    (b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    (b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 505),
    (b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 100 + b"\r\n", 431),
    (b"POST /execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
]


class Client(threading.Thread):
    def __init__(self, k, until):
        super().__init__(daemon=True)
        self.k, self.until = k, until
        self.counts = {}
        self.errors = []
        self.conn = None

    def connection(self):
        if self.conn is None:
            self.conn = RawConn(timeout=60)
        return self.conn

    def exchange(self, data, timeout):
        c = self.connection()
        c.send(data)
        return c.read_response(timeout=timeout)

    def one(self, i):
        kind = i % 8
        if kind == 0:
            resp = self.exchange(http_request_bytes("POST", "/execute", execute_body(
                "def main():\n    return [%d, %d]\n" % (self.k, i))), CFG.request_timeout)
            if resp.status == 503:
                ok = (resp.json or {}).get("error", {}).get("type") == "ServerBusy" and \
                    resp.header("retry-after") is not None
            else:
                ok = resp.status == 200 and (resp.json or {}).get("result") == [self.k, i]
            return "execute", ok, resp
        if kind in (1, 2, 3):
            resp = self.exchange(http_request_bytes("GET", "/health"), 30)
            return "health", resp.status == 200 and (resp.json or {}).get("status") == "ok", resp
        if kind == 4:
            resp = self.exchange(http_request_bytes("GET", "/nope"), 30)
            return "404", resp.status == 404, resp
        if kind == 5:
            resp = self.exchange(http_request_bytes("POST", "/execute", b'{"script": 1'), 30)
            return "400", resp.status == 400 and resp.json["error"]["type"] == "ValidationError", resp
        if kind == 6:
            resp = self.exchange(http_request_bytes("POST", "/execute", b"{}",
                                                    content_type="text/plain"), 30)
            return "415", resp.status == 415, resp
        data, status = HOSTILE[(self.k + i) % len(HOSTILE)]
        with RawConn(timeout=30) as c:
            try:
                c.send(data)
            except OSError:
                pass
            resp = c.read_response(timeout=30)
            ok = resp.status == status and (resp.header("connection") or "") == "close"
            ok = ok and c.wait_closed(10) and b"HTTP/1." not in c.buf
        return "hostile", ok, resp

    def run(self):
        i = 0
        while time.monotonic() < self.until:
            try:
                kind, ok, resp = self.one(i)
            except Exception as exc:  # a dropped connection is an error too
                self.errors.append("client %d request %d: %r" % (self.k, i, exc))
                if self.conn:
                    self.conn.close()
                self.conn = None
                i += 1
                continue
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if not ok:
                self.errors.append("client %d request %d (%s): %s"
                                   % (self.k, i, kind, resp.describe(200)))
            i += 1
        if self.conn:
            self.conn.close()


@test
def sixty_four_keep_alive_clients_mixing_valid_invalid_and_hostile_requests():
    until = time.monotonic() + LOAD_SECONDS
    clients = [Client(k, until) for k in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(LOAD_SECONDS + CFG.request_timeout + 30)
    check(not any(c.is_alive() for c in clients), "a client did not finish")
    totals = {}
    for c in clients:
        for k, v in c.counts.items():
            totals[k] = totals.get(k, 0) + v
    errors = [e for c in clients for e in c.errors]
    print("# %d clients, %.0f s: %r" % (CLIENTS, LOAD_SECONDS, totals), flush=True)
    check(not errors, "%d wrong or missing answers, e.g. %s" % (len(errors), "; ".join(errors[:3])))
    check(all(totals.get(k, 0) > 0 for k in ("execute", "health", "404", "400", "415", "hostile")),
          "every kind of request must have been answered at least once: %r" % totals)
    expect_healthy()


@test
def thousands_of_pipelined_requests_are_answered_and_leave_the_log_alone():
    # evhtp logged an "ODDITY" line for each pipelined request (patches/libevhtp/0006-*).
    n = 2000
    since = len(log_text())
    with RawConn(timeout=60) as c:
        c.send(http_request_bytes("GET", "/nope") * n)
        for i in range(n):
            resp = c.read_response(timeout=30)
            check(resp.status == 404, "pipelined request %d of %d" % (i + 1, n), resp)
    growth = len(log_text()) - since
    check(growth < 4096, "the log grew by %d bytes for %d pipelined requests" % (growth, n))


# --------------------------------------------------------------------------------------------
# Floods


def open_flood(n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", CFG.port))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.3)
    for i, s in enumerate(socks):
        if i % 2:
            try:  # half-sent: a request that never ends
                s.send(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            except OSError:
                pass
    return socks


def close_all(socks):
    for s in socks:
        s.close()


def flood_for(seconds, n):
    """Holds n connections for `seconds`; returns the daemon's CPU seconds meanwhile."""
    cpu0, t0 = cpu_seconds(), time.monotonic()
    socks = open_flood(n)
    try:
        time.sleep(max(0, t0 + seconds - time.monotonic()))
        return cpu_seconds() - cpu0
    finally:
        close_all(socks)


def expect_bounded_log(since, what):
    text = log_text()[since:]
    check("Error from accept() call" not in text,
          "%s: libevent's own accept() error lines are in the log" % what)
    check(len(text) < LOG_GROWTH, "%s: the log grew by %d bytes" % (what, len(text)))
    return text


@test
def connection_flood_past_the_cap_pauses_the_listener_without_spinning():
    seconds = 3.0
    since = len(log_text())
    cpu = flood_for(seconds, FLOOD)
    text = expect_bounded_log(since, "flood")
    lines = text.count("not accepting until one closes")
    check(1 <= lines <= seconds / 10 + 2, "the cap must be logged once per interval: %d lines"
          % lines)
    check(cpu < seconds * 0.5, "the daemon used %.1f s of CPU in %.1f s of flood: spinning" %
          (cpu, seconds))
    expect_healthy(timeout=CFG.header_ms / 1000.0 + CFG.slack_s + 10)


@test
def failing_accepts_pause_the_listener_without_spinning():
    # The daemon's open-file limit lowered under it: accept() fails with EMFILE before the cap.
    seconds = 3.0
    since = len(log_text())
    limit = BASELINE["fds"] + 20
    subprocess.run(["prlimit", "--pid", str(CFG.daemon_pid), "--nofile=%d:256" % limit],
                   check=True)
    try:
        cpu = flood_for(seconds, 200)
    finally:
        subprocess.run(["prlimit", "--pid", str(CFG.daemon_pid), "--nofile=256:256"], check=True)
    text = expect_bounded_log(since, "accept failures")
    lines = text.count("accept() failed")
    # (the line of a failure in the 10 s before, at the end of the last flood, covers these)
    check(lines <= seconds / 10 + 2 and log_text().count("accept() failed") >= 1,
          "failed accepts must be logged, once per interval: %d lines" % lines)
    check(cpu < seconds * 0.5, "the daemon used %.1f s of CPU in %.1f s: spinning" % (cpu, seconds))
    expect_healthy(timeout=CFG.header_ms / 1000.0 + CFG.slack_s + 10)


def readable(sock):
    r, _, _ = select.select([sock], [], [], 0)
    return bool(r)


@test
def slowloris_clients_each_get_their_408():
    n = 100
    conns = [RawConn(timeout=30) for _ in range(n)]
    data = http_request_bytes("GET", "/health", headers={"X-Slow": "s" * 200})
    started = time.monotonic()
    bound = started + CFG.header_ms / 1000.0 + CFG.slack_s
    answered = set()
    try:
        for sent in range(len(data) - 4):
            if time.monotonic() > bound or len(answered) == n:
                break
            for i, c in enumerate(conns):
                # Once answered, a client stops: the daemon ends the connection after its 408.
                if i in answered or readable(c.sock):
                    answered.add(i)
                    continue
                try:
                    c.sock.send(data[sent:sent + 1])
                except OSError:
                    answered.add(i)
            t = time.monotonic()
            expect_healthy(timeout=10)  # everyone else is served meanwhile
            check(time.monotonic() - t < 5, "/health took %.1fs during the slowloris"
                  % (time.monotonic() - t))
            time.sleep(0.25)
        statuses = []
        for c in conns:
            try:
                statuses.append(c.read_response(timeout=max(0.1, bound - time.monotonic())).status)
            except Exception as exc:
                statuses.append(type(exc).__name__)
    finally:
        for c in conns:
            c.close()
    check(statuses.count(408) == n, "every slow client must get 408: %r" %
          {s: statuses.count(s) for s in set(statuses)})


@test(last=True)
def afterwards_the_daemon_serves_and_is_back_to_its_baseline():
    expect_serving()
    deadline = time.monotonic() + 15  # lingering connections end within 2 s, idle ones later
    while True:
        now = proc_status()
        back = (now["fds"] <= BASELINE["fds"] + 2 and now["threads"] == BASELINE["threads"])
        if back or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print("# after: %r" % now, flush=True)
    check(now["fds"] <= BASELINE["fds"] + 2, "open descriptors %d, baseline %d"
          % (now["fds"], BASELINE["fds"]))
    check(now["threads"] == BASELINE["threads"], "threads %d, baseline %d"
          % (now["threads"], BASELINE["threads"]))
    check(now["rss_kb"] <= BASELINE["rss_kb"] * 2 + 64 * 1024, "RSS %d kB, baseline %d kB"
          % (now["rss_kb"], BASELINE["rss_kb"]))
    growth = len(log_text()) - BASELINE["log"]
    check(growth < 4 * LOG_GROWTH, "the log grew by %d bytes during the load" % growth)


if __name__ == "__main__":
    sys.exit(main(description=__doc__))
