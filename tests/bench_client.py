#!/usr/bin/python3
"""HTTP/1.1 keep-alive load client for pyexecd's benchmark (tests/bench.sh). Standard library only.

It only ever talks to a daemon on 127.0.0.1 and only ever sends the three scripts in SCRIPTS.

    bench_client.py health     --port P --pid PID [--timeout S]
        waits until GET /health answers 200 (exit 1 if the daemon died or was late)
    bench_client.py latency    --port P --script NAME [--n N] [--warmup 3]
        N requests one after another on one persistent connection (after WARMUP uncounted
        ones); prints p50/p95/p99/mean in ms
    bench_client.py throughput --port P --script NAME [--clients C] [--seconds D]
        C threads, each with its own persistent connection, send requests for D seconds;
        prints requests/s and the error count
    bench_client.py measure    --target LABEL PORT PID OUT.json [--target ...]
                               [--n N] [--fault-n N] [--seconds D] [--clients 1,4,16]
                               [--scripts a,b,c]
        everything bench.sh reports, for each daemon (configuration) given, as JSON; the
        daemons are measured interleaved (each measurement on every daemon in turn)
    bench_client.py faults     --port P --pid PID --script NAME [--n 100] [--warmup 3]
        page faults per request of N sequential requests, machine-wide and per process group
        (see run_faults)
    bench_client.py machine
        one line: CPU model, hypervisor, kernel, CPUs, memory
    bench_client.py quiet      --port P --pid PID
        waits (at most 10 s) until the daemon is idle and its set of sandboxes stable
    bench_client.py report     --title TITLE COLD.json WARM.json
        the side-by-side table (cold | warm | cold/warm)

Every answer is checked: any non-200, or a 200 whose result or stdout differs from the expected
one, is an error; each distinct kind of error is printed once (to stderr) and counted. The exit
status of latency/throughput/measure is 3 when an answer was wrong: a 200 with another result, or
a status other than 503 ServerBusy / 504 TimeoutError (those two are load, not wrong results),
or a broken connection; 0 otherwise.
"""

import argparse
import http.client
import json
import math
import os
import platform
import resource
import select
import socket
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"

# name -> (script, expected result, expected stdout)
SCRIPTS = {
    "return1": ("def main():\n    return 1\n", 1, ""),
    # The README's example.
    "pandas": (
        "def main():\n"
        "    import pandas as pd\n"
        '    print("hi")\n'
        '    return {"rows": len(pd.DataFrame({"a": [1, 2]}))}\n',
        {"rows": 2},
        "hi\n",
    ),
    # trace(A @ A) for A = arange(40000).reshape(200, 200) is sum over i, k of
    # (200i + k)(200k + i) = 16052532010000: every product and partial sum is an integer below
    # 2**53, so float64 gives it exactly whatever the BLAS's order of summation.
    "numpy": (
        "def main():\n"
        "    import numpy as np\n"
        "    a = np.arange(40000, dtype=float).reshape(200, 200)\n"
        "    return float((a @ a).trace())\n",
        16052532010000.0,
        "",
    ),
}
SCRIPT_ORDER = ("return1", "pandas", "numpy")
LOAD_STATUSES = (503, 504)  # errors caused by load: counted, but not wrong answers
CLK_TCK = os.sysconf("SC_CLK_TCK")


def body_of(name):
    return json.dumps({"script": SCRIPTS[name][0]}).encode()


class Errors:
    """Counts the errors of one run; prints each distinct kind once per SCOPE (a daemon and a
    script) over all runs. Thread-safe."""

    seen = set()
    lock = threading.Lock()

    def __init__(self, context, scope):
        self.context = context
        self.scope = scope
        self.count = 0
        self.wrong = 0  # errors that are wrong answers, not load

    def add(self, kind, detail, wrong):
        with self.lock:
            self.count += 1
            if wrong:
                self.wrong += 1
            if (self.scope, kind) not in self.seen:
                self.seen.add((self.scope, kind))
                print("bench_client: %s: %s (%s; further errors of this kind are only counted)"
                      % (self.context, detail, "WRONG ANSWER" if wrong else "load"),
                      file=sys.stderr, flush=True)


class Client:
    """One persistent HTTP/1.1 connection; counts the connections it had to open."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.opened = 0

    def connect(self):
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1

    def request(self, method, path, body=None):
        """-> (status, body bytes). Reconnects (counted) when the server closed the connection."""
        if self.conn is None or self.conn.sock is None:
            self.connect()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        if r.will_close:
            self.close()
        return r.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def check(name, status, data, errors):
    """True if the answer is the expected one; else records the error."""
    _, result, stdout = SCRIPTS[name]
    if status != 200:
        try:
            etype = json.loads(data)["error"]["type"]
        except (ValueError, KeyError, TypeError):
            etype = "?"
        errors.add(("status", status, etype), "HTTP %d: %s" % (status, data[:300]),
                   status not in LOAD_STATUSES)
        return False
    try:
        got = json.loads(data)
        # Compared as JSON text: 1 is not true nor 1.0.
        ok = (json.dumps(got.get("result"), sort_keys=True) == json.dumps(result, sort_keys=True)
              and got.get("stdout") == stdout)
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        errors.add(("wrong",), "HTTP 200 with an unexpected answer: %s (expected result %r, "
                   "stdout %r)" % (data[:300], result, stdout), True)
    return ok


def one(client, name, body, errors):
    """Sends one request; -> (seconds, answered, correct)."""
    t = time.monotonic()
    try:
        status, data = client.request("POST", "/execute", body)
    except (OSError, http.client.HTTPException) as e:
        errors.add(("conn", type(e).__name__), "connection error: %r" % e, True)
        return time.monotonic() - t, False, False
    dt = time.monotonic() - t
    return dt, True, check(name, status, data, errors)


def percentile(sorted_values, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_latency(port, name, n, warmup, timeout, label=""):
    errors = Errors(("%s latency %s" % (label, name)).strip(), (label, name))
    client = Client(port, timeout)
    body = body_of(name)
    for _ in range(warmup):
        one(client, name, body, errors)
    times = []
    for _ in range(n):
        dt, _, _ = one(client, name, body, errors)
        times.append(dt * 1000.0)
    client.close()
    s = sorted(times)
    return {
        "n": n, "warmup": warmup,
        "p50_ms": percentile(s, 50), "p95_ms": percentile(s, 95), "p99_ms": percentile(s, 99),
        "mean_ms": sum(s) / len(s) if s else float("nan"),
        "errors": errors.count, "wrong": errors.wrong, "connections": client.opened,
    }


def daemon_cpu_ticks(pid):
    """utime + stime of the daemon process itself (all its threads, none of its children)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from 1


def run_throughput(port, name, clients, seconds, timeout, label=""):
    errors = Errors(("%s throughput %s x%d" % (label, name, clients)).strip(), (label, name))
    body = body_of(name)
    conns = [Client(port, timeout) for _ in range(clients)]
    for c in conns:
        c.connect()
    counts = [[0, 0] for _ in range(clients)]  # answered, correct
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(i):
        c = conns[i]
        barrier.wait()
        while time.monotonic() < deadline[0]:
            _, answered, correct = one(c, name, body, errors)
            counts[i][0] += answered
            counts[i][1] += correct
        c.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    deadline[0] = t0 + seconds
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0  # includes the requests still running at the deadline
    answered = sum(c[0] for c in counts)
    correct = sum(c[1] for c in counts)
    return {
        "clients": clients, "seconds": seconds, "elapsed_s": elapsed,
        "answered": answered, "ok": correct, "rps": correct / elapsed,
        "errors": errors.count, "wrong": errors.wrong,
        "connections": sum(c.opened for c in conns),
    }


def read_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(read_status(int(entry)).get("PPid", "-1")) == pid:
                kids.append(int(entry))
        except (OSError, ValueError):
            continue
    return sorted(kids)


def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


USS_FIELDS = ("Private_Clean:", "Private_Dirty:", "Private_Hugetlb:")
PSS_FIELDS = ("Pss:",)


def smaps_kib(pid, fields):
    """The sum of FIELDS in KiB, from smaps_rollup, else summed over smaps; None if neither can
    be read (or neither has the fields)."""
    for name in ("smaps_rollup", "smaps"):
        try:
            with open("/proc/%d/%s" % (pid, name)) as f:
                total, found = 0, False
                for line in f:
                    if line.startswith(fields):
                        total += int(line.split()[1])
                        found = True
        except (OSError, ValueError, IndexError):
            continue
        if found:
            return total
    return None


def uss_kib(pid):
    """Private_Clean + Private_Dirty + Private_Hugetlb: what the process alone maps."""
    return smaps_kib(pid, USS_FIELDS)


def health(port, timeout=10):
    c = Client(port, timeout)
    try:
        status, data = c.request("GET", "/health")
    finally:
        c.close()
    return status, json.loads(data) if status == 200 else None


def idle_memory(port, pid, settle_s=15.0):
    """Waits until the daemon is idle (no sandbox running or queued) and its set of children has
    not changed for 1.5 s (at most SETTLE_S), then measures its children: a child whose comm is
    pyexecd-zygote is the zygote; the daemon's other children and the zygote's children are
    idle pre-started sandboxes."""
    deadline = time.monotonic() + settle_s
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        try:
            _, h = health(port)
            busy = h is None or h["sandboxes"]["running"] or h["sandboxes"]["queued"]
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
            busy = True
        kids = children_of(pid)
        if busy or kids != last:
            last, stable_since = kids, time.monotonic()
        elif time.monotonic() - stable_since >= 1.5:
            break
        time.sleep(0.25)
    zygotes = [k for k in children_of(pid) if comm_of(k) == "pyexecd-zygote"]
    sandboxes = [k for k in children_of(pid) if k not in zygotes]
    for z in zygotes:
        sandboxes += children_of(z)
    sandbox_uss = [uss_kib(k) for k in sandboxes]
    zygote_uss = [uss_kib(z) for z in zygotes]
    pss = [smaps_kib(k, PSS_FIELDS) for k in sandboxes + zygotes]
    return {
        "sandboxes": len(sandboxes),
        "sandbox_comms": sorted(set(comm_of(k) for k in sandboxes)),
        "sandbox_uss_kib": (None if not sandboxes or None in sandbox_uss
                            else sum(sandbox_uss) / len(sandbox_uss)),
        "zygotes": len(zygotes),
        "zygote_uss_kib": None if not zygotes or None in zygote_uss else sum(zygote_uss),
        "pool_pss_kib": None if not pss or None in pss else sum(pss),
        "daemon_uss_kib": uss_kib(pid),
    }


def sandbox_pids(pid):
    """The daemon's children and the zygote's children (what may still be starting)."""
    kids = children_of(pid)
    return kids + [g for k in kids if comm_of(k) == "pyexecd-zygote" for g in children_of(k)]


def wait_quiet(targets, limit_s=10.0):
    """Before each measurement: every daemon idle (no sandbox running or queued) and its set of
    child processes unchanged for 0.5 s (a warm daemon refilling its pool), at most LIMIT_S."""
    deadline = time.monotonic() + limit_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = []
        for t in targets:
            try:
                _, h = health(t["port"])
                busy = h["sandboxes"]["running"] + h["sandboxes"]["queued"]
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                busy = -1
            state.append((busy, tuple(sandbox_pids(t["pid"]))))
        if any(b for b, _ in state) or state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return
        time.sleep(0.1)


# --- page faults -------------------------------------------------------------------------------
#
# What run_faults counts, over N sequential requests on one keep-alive connection (after WARMUP
# uncounted ones, the daemon idle and its pool of ready sandboxes refilled before the first; after
# the last answer, until its process tree has been stable for 0.5 s: the last sandbox reaped and
# its replacement made). Every figure is a count over that window / N.
#   machine: /proc/vmstat pgfault and pgmajfault, the whole machine's, so the client and any other
#       work on the machine are in it too. pgfault counts every fault the kernel handled, also
#       those that failed (a segfault); pgmajfault those that had to read a page from a file or
#       swap.
#   per process group (the kernel's own per-task counters: minflt + majflt, successful faults
#   only; majflt also counts a fault retried after waiting for a page):
#     daemon   /proc/PID/stat of the daemon, every thread of it (exited ones included)
#     zygote   /proc/PID/stat of the daemon's child named pyexecd-zygote (warm start only)
#     sandbox, guardian, helper: every process of the daemon's tree that ended in the window,
#              from the kernel's taskstats exit record of each of its threads (generic netlink
#              TASKSTATS, all CPUs, read by a child process of the client). A process is ours if
#              its parent chain (from the records, or /proc for processes still alive) reaches the
#              daemon. guardian: a child of the daemon named pyexecd-guard (cloud jail) and the
#              children it forks under that name (its uid helpers that set rlimits); sandbox: a
#              child of the daemon named python*/pyexecd-zygote (local jail), any child of the
#              zygote, a guardian's other children (its cold sandbox, orphans it reaps), and
#              everything those fork; helper: the daemon's other children (the cloud jail's
#              uid-sweep and /tmp helpers) and their children. A process is
#              counted whole (its life from fork to exit) when it ends in the window: the ready
#              sandbox used by the first request was made before it, the one made after the last
#              request is still waiting at its end, so in steady state this is one full sandbox
#              per request
#     client   getrusage(RUSAGE_SELF) of this client process, until the last answer (the
#              taskstats reader is a separate process and not in it)
#     ours     the sum of the six; not ours = machine - ours: other work on the machine (this
#              machine is shared), the taskstats reader, and faults the per-task counters do
#              not see (failed ones)
#   reaped: the daemon's cminflt + cmajflt (/proc/PID/stat): the faults of the children it
#       reaped in the window, each with the descendants it reaped in turn: a cross-check of
#       sandbox + guardian + helper, except that it misses warm cloud sandboxes (the zygote's
#       children: the kernel discards their counts because the zygote ignores SIGCHLD, and a
#       tracer's reaping adds nothing)
# Unavailable counts are None with the reason: no /proc/vmstat (gVisor), per-process counters
# that stay 0 (gVisor counts no faults per process), no taskstats (not root, a kernel without
# CONFIG_TASKSTATS, a pid or user namespace other than the initial one, gVisor), or exit records
# lost because the reader's socket buffer overflowed.

PAGE_FAULT_GROUPS = ("daemon", "zygote", "sandbox", "guardian", "helper", "client")


def read_vmstat():
    """-> ({"pgfault": n, "pgmajfault": n}, None), or (None, why not)."""
    try:
        with open("/proc/vmstat") as f:
            counts = dict(line.split()[:2] for line in f if line.strip())
    except OSError as e:
        return None, "no /proc/vmstat here (%s)" % (e.strerror or e)
    try:
        return {k: int(counts[k]) for k in ("pgfault", "pgmajfault")}, None
    except (KeyError, ValueError):
        return None, "/proc/vmstat has no pgfault/pgmajfault"


def proc_faults(pid):
    """{"min", "maj", "cmin", "cmaj"} of a process (/proc/PID/stat fields 10-13 of proc(5)): its own
    faults, all its threads, and those of the children it reaped; None if it cannot be read."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return {"min": int(fields[7]), "cmin": int(fields[8]), "maj": int(fields[9]),
                "cmaj": int(fields[10])}
    except (OSError, IndexError, ValueError):
        return None


def client_faults():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"min": r.ru_minflt, "maj": r.ru_majflt}


def counters_work():
    """False where the per-process fault counters are not kept (gVisor reports 0): no real
    kernel has run a Python this far without a page fault."""
    return client_faults()["min"] > 0


# struct taskstats (linux/taskstats.h): offsets of the fields read, stable across versions (the
# struct only grows); ac_tgid since version 12.
TS_OFF = {"comm": 80, "uid": 120, "pid": 128, "ppid": 132, "minflt": 168, "majflt": 176,
          "tgid": 368}
TS_MIN_LEN = 184
NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3
TASKSTATS_TYPE_STATS = 3
TASKSTATS_TYPE_AGGR_PID = 4
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def nl_attr(kind, data):
    n = 4 + len(data)
    return struct.pack("HH", n, kind) + data + b"\0" * (-n % 4)


def nl_attrs(data):
    """[(type, payload)] of a run of netlink attributes."""
    out, i = [], 0
    while i + 4 <= len(data):
        n, kind = struct.unpack_from("HH", data, i)
        if n < 4:
            break
        out.append((kind & 0x3fff, data[i + 4:i + n]))
        i += (n + 3) & ~3
    return out


def nl_messages(data):
    """[(type, payload after the nlmsghdr)] of one datagram."""
    out, i = [], 0
    while i + 16 <= len(data):
        n, kind = struct.unpack_from("IH", data, i)
        if n < 16:
            break
        out.append((kind, data[i + 16:i + n]))
        i += (n + 3) & ~3
    return out


def genl_request(sock, family, cmd, attrs, seq):
    """Sends a generic netlink request and returns the payload of its reply (None for a bare
    ack); raises OSError for an error reply."""
    payload = struct.pack("BBH", cmd, 1, 0) + attrs
    sock.send(struct.pack("IHHII", 16 + len(payload), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
              + payload)
    while True:
        for kind, body in nl_messages(sock.recv(65536)):
            if kind == NLMSG_ERROR:
                err = struct.unpack_from("i", body)[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                return None
            return body


def taskstats_socket():
    """A netlink socket receiving the exit record of every task that ends on any CPU."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    try:
        # Other work on the machine ends tasks too: room for a few thousand records.
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 16 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        sock.bind((0, 0))
        body = genl_request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                            nl_attr(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"), 1)
        family = None
        for kind, value in nl_attrs((body or b"")[4:]):
            if kind == CTRL_ATTR_FAMILY_ID:
                family = struct.unpack_from("H", value)[0]
        if family is None:
            raise OSError(0, "no TASKSTATS family")
        sock.recv(65536)  # the ack of the family request
        try:
            with open("/sys/devices/system/cpu/possible") as f:
                cpus = f.read().strip()
        except OSError:
            cpus = "0-%d" % ((os.cpu_count() or 1) - 1)
        genl_request(sock, family, TASKSTATS_CMD_GET,
                     nl_attr(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus.encode() + b"\0"), 2)
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def taskstats_records(data):
    """The per-task exit records in one datagram: dicts of TS_OFF's fields."""
    out = []
    for _, body in nl_messages(data):
        for kind, value in nl_attrs(body[4:]):
            if kind != TASKSTATS_TYPE_AGGR_PID:
                continue
            for kind2, st in nl_attrs(value):
                if kind2 != TASKSTATS_TYPE_STATS or len(st) < TS_MIN_LEN:
                    continue
                version = struct.unpack_from("H", st)[0]
                pid, ppid = struct.unpack_from("II", st, TS_OFF["pid"])
                tgid = (struct.unpack_from("I", st, TS_OFF["tgid"])[0]
                        if version >= 12 and len(st) >= TS_OFF["tgid"] + 4 else pid)
                out.append({
                    "pid": pid, "tgid": tgid, "ppid": ppid,
                    "comm": st[TS_OFF["comm"]:TS_OFF["comm"] + 32].split(b"\0")[0].decode(
                        "utf-8", "replace"),
                    "uid": struct.unpack_from("I", st, TS_OFF["uid"])[0],
                    "minflt": struct.unpack_from("Q", st, TS_OFF["minflt"])[0],
                    "majflt": struct.unpack_from("Q", st, TS_OFF["majflt"])[0],
                })
    return out


def send_msg(fd, obj):
    data = json.dumps(obj).encode()
    data = struct.pack("I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def recv_msg(fd):
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError("the taskstats reader ended")
            buf += chunk
        return buf
    return json.loads(exactly(struct.unpack("I", exactly(4))[0]))


def exit_reader(cmd, reply):
    """The taskstats reader (a child process of the client): keeps the exit records that arrive
    between b"b" (begin) and b"e" (end, answered with them); EOF or b"q" ends it."""
    try:
        sock = taskstats_socket()
    except OSError as e:
        send_msg(reply, {"error": "taskstats: %s" % (e.strerror or e)})
        return
    send_msg(reply, {"error": None})
    records, collecting, lost = [], False, 0

    def drain():
        nonlocal lost
        while True:
            try:
                data = sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:  # ENOBUFS: records were dropped
                lost += 1
                continue
            if collecting:
                records.extend(taskstats_records(data))

    while True:
        ready, _, _ = select.select([sock, cmd], [], [])
        if sock in ready:
            drain()
        if cmd in ready:
            c = os.read(cmd, 1)
            if c in (b"", b"q"):
                return
            # Whatever ended before the command is in the socket already (the kernel sends the
            # record from the exiting task itself): drained on the old side of the line.
            drain()
            if c == b"b":
                records, collecting, lost = [], True, 0
                send_msg(reply, {"ok": True})
            elif c == b"e":
                collecting = False
                send_msg(reply, {"records": records, "lost": lost})
                records = []


class ExitRecorder:
    """The taskstats exit records of every task that ended between begin() and end(), read by a
    child process. Made before the client starts any thread (it forks)."""

    def __init__(self):
        self.pid, self.reason = None, None
        cmd_r, self.cmd = os.pipe()
        self.reply, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(self.cmd)
            os.close(self.reply)
            try:
                exit_reader(cmd_r, reply_w)
            finally:
                os._exit(0)
        os.close(cmd_r)
        os.close(reply_w)
        self.pid = pid
        try:
            self.reason = recv_msg(self.reply)["error"]
        except (EOFError, ValueError) as e:
            self.reason = "taskstats reader: %s" % e
        if self.reason:
            self.close()

    def begin(self):
        if self.reason:
            return
        os.write(self.cmd, b"b")
        recv_msg(self.reply)

    def end(self):
        """-> (records, None) or (None, why not)."""
        if self.reason:
            return None, self.reason
        os.write(self.cmd, b"e")
        r = recv_msg(self.reply)
        if r["lost"]:
            return None, "taskstats: records lost (socket buffer overflowed %d times)" % r["lost"]
        return r["records"], None

    def close(self):
        if self.pid is not None:
            try:
                os.write(self.cmd, b"q")
            except OSError:
                pass
            os.close(self.cmd)
            os.close(self.reply)
            os.waitpid(self.pid, 0)
            self.pid = None


def live_parent(pid):
    """-> (ppid, comm) of a running process, None if it is gone."""
    try:
        return int(read_status(pid).get("PPid", "-1")), comm_of(pid)
    except (OSError, ValueError):
        return None


def group_exits(records, daemon, zygote):
    """Sums the records of the daemon's tree by group: {group: {"min", "maj", "processes"}} for
    sandbox, guardian and helper (what the daemon and the zygote count themselves is left out)."""
    procs = {}
    for r in records:
        if r["tgid"] in (daemon, zygote):
            continue
        p = procs.setdefault(r["tgid"], {"ppid": r["ppid"], "comm": r["comm"], "min": 0, "maj": 0})
        p["min"] += r["minflt"]
        p["maj"] += r["majflt"]
        if r["pid"] == r["tgid"]:  # the process's own name, not a thread's
            p["comm"] = r["comm"]
    roles = {daemon: "daemon"}
    if zygote:
        roles[zygote] = "zygote"

    def role(pid, depth=0):
        if pid in roles:
            return roles[pid]
        if pid <= 1 or depth > 64:
            return None
        info = procs.get(pid)
        info = (info["ppid"], info["comm"]) if info else live_parent(pid)
        if info is None:
            roles[pid] = None
            return None
        ppid, comm = info
        up = role(ppid, depth + 1)
        if up == "daemon":
            r = ("guardian" if comm == "pyexecd-guard" else
                 "sandbox" if comm.startswith("python") or comm == "pyexecd-zygote" else "helper")
        elif up == "guardian":  # its uid helpers, or its cold sandbox (python3 once exec'd)
            r = "guardian" if comm == "pyexecd-guard" else "sandbox"
        elif up in ("zygote", "sandbox"):
            r = "sandbox"
        else:
            r = up  # helper, or None: not ours
        roles[pid] = r
        return r

    out = {g: {"min": 0, "maj": 0, "processes": 0} for g in ("sandbox", "guardian", "helper")}
    for tgid, p in procs.items():
        g = role(tgid)
        if g in out:
            out[g]["min"] += p["min"]
            out[g]["maj"] += p["maj"]
            out[g]["processes"] += 1
    return out


def zygote_of(pid):
    z = [k for k in children_of(pid) if comm_of(k) == "pyexecd-zygote"]
    return z[0] if z else None


def settle(pid, limit_s=10.0):
    """Until the daemon's sandboxes (its children and the zygote's) have not changed for 0.5 s
    and none is a zombie, at most LIMIT_S; no HTTP (that would fault too)."""
    deadline = time.monotonic() + limit_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        kids = tuple(sandbox_pids(pid))
        zombie = False
        for k in kids:
            try:
                zombie = zombie or read_status(k).get("State", "").startswith("Z")
            except OSError:
                zombie = True
        if zombie or kids != last:
            last, since = kids, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return
        time.sleep(0.05)


def delta(after, before, keys=("min", "maj")):
    if after is None or before is None:
        return None
    return {k: after[k] - before[k] for k in keys}


def run_faults(port, pid, name, n, warmup, timeout, recorder, label=""):
    """Page faults of N sequential requests (see the comment above PAGE_FAULT_GROUPS): a dict of
    totals over the window, None for what could not be counted, and "why" for each of those."""
    out = {"n": n, "warmup": warmup, "errors": 0, "wrong": 0, "why": {}, "machine": None,
           "reaped": None, "groups": {g: None for g in PAGE_FAULT_GROUPS}}
    vm_ok, vm_why = read_vmstat()
    if vm_ok is None and not counters_work():
        # Nothing to count with (gVisor): the requests are not sent.
        out["why"]["machine"] = vm_why
        for g in PAGE_FAULT_GROUPS + ("reaped",):
            out["why"][g] = "per-process fault counters read 0 here (gVisor keeps none)"
        return out
    errors = Errors(("%s faults %s" % (label, name)).strip(), (label, name))
    client = Client(port, timeout)
    body = body_of(name)
    for _ in range(warmup):
        one(client, name, body, errors)
    wait_quiet([{"port": port, "pid": pid}])
    zygote = zygote_of(pid)
    vm0, vm_why = read_vmstat()
    d0, z0, c0 = proc_faults(pid), proc_faults(zygote) if zygote else None, client_faults()
    recorder.begin()
    for _ in range(n):
        one(client, name, body, errors)
    c1 = client_faults()
    settle(pid)
    d1, z1 = proc_faults(pid), proc_faults(zygote) if zygote else None
    vm1, _ = read_vmstat()
    exits, exits_why = recorder.end()
    client.close()
    if zygote and zygote_of(pid) != zygote:
        z1, zygote_why = None, "the zygote was replaced during the run"
    else:
        zygote_why = None if zygote else "no zygote (cold start)"
    out["errors"], out["wrong"] = errors.count, errors.wrong
    if vm0 is not None and vm1 is not None:
        out["machine"] = {"pgfault": vm1["pgfault"] - vm0["pgfault"],
                          "pgmajfault": vm1["pgmajfault"] - vm0["pgmajfault"]}
    else:
        out["machine"], out["why"]["machine"] = None, vm_why
    groups = {g: None for g in PAGE_FAULT_GROUPS}
    if not counters_work():
        why = "per-process fault counters read 0 here (gVisor keeps none)"
        for g in PAGE_FAULT_GROUPS + ("reaped",):
            out["why"][g] = why
        out["reaped"] = None
    else:
        groups["daemon"] = delta(d1, d0)
        groups["zygote"] = delta(z1, z0)
        if zygote_why:
            out["why"]["zygote"] = zygote_why
        groups["client"] = delta(c1, c0)
        out["reaped"] = (None if d0 is None or d1 is None else
                         {"min": d1["cmin"] - d0["cmin"], "maj": d1["cmaj"] - d0["cmaj"]})
        if exits is None:
            for g in ("sandbox", "guardian", "helper"):
                out["why"][g] = exits_why
        else:
            groups.update(group_exits(exits, pid, zygote))
    out["groups"] = groups
    return out


def run_cmd(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10,
                           check=False)
        return r.stdout.decode("utf-8", "replace").strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_line():
    """CPU model, hypervisor, kernel, CPUs, memory: where the figures come from."""
    models, flags = [], set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "model name":
                    models.append(v.strip())
                elif k.strip() == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    model = (" + ".join(sorted(set(models))) if models else platform.processor() or "unknown CPU")
    virt = []
    if "hypervisor" in flags:
        virt.append("cpu flag hypervisor")
    elif flags:
        virt.append("no hypervisor cpu flag")
    try:
        # CPUID leaf 0x40000000: the hypervisor's signature (needs the cpuid driver and root).
        fd = os.open("/dev/cpu/0/cpuid", os.O_RDONLY)
        try:
            sig = os.pread(fd, 16, 0x40000000)[4:].replace(b"\0", b"").decode("ascii", "replace")
        finally:
            os.close(fd)
        if sig.strip() and "hypervisor" in flags:
            virt.append("CPUID signature %r" % sig)
    except OSError:
        pass
    try:
        with open("/sys/hypervisor/type") as f:
            virt.append("/sys/hypervisor/type %s" % f.read().strip())
    except OSError:
        pass
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            virt.append("clocksource %s" % f.read().strip())
    except OSError:
        pass
    vm, ct = run_cmd(["systemd-detect-virt", "--vm"]), run_cmd(["systemd-detect-virt",
                                                                  "--container"])
    if vm is not None:
        virt.append("systemd-detect-virt: vm %s, container %s" % (vm or "?", ct or "?"))
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576.0)
    except (OSError, ValueError):
        pass
    return ("machine: %s, %d CPUs online, nproc %d, memory %s; kernel %s %s; %s"
            % (model, os.cpu_count() or 0, len(os.sched_getaffinity(0)), mem, platform.release(),
               platform.machine(), "; ".join(virt) or "no sign of a hypervisor"))


def measure(args):
    """Measures every target (daemon configuration) with the same requests, interleaved: each
    measurement (a script's sequential run, one throughput run) is made on every target in turn,
    the order alternating, so that a change of load on the machine affects all of them alike."""
    targets = []
    for label, port, pid, path in args.target:
        t = {"label": label, "port": int(port), "pid": int(pid), "path": path}
        t["out"] = {"label": label, "pid": t["pid"], "n": args.n, "fault_n": args.fault_n,
                    "warmup": args.warmup,
                    "seconds": args.seconds, "clients": args.clients, "clk_tck": CLK_TCK,
                    "scripts": {}, "wrong": 0}
        _, t["out"]["health"] = health(t["port"])
        targets.append(t)
    flip = [False]

    def each():
        order = targets[::-1] if flip[0] else targets
        flip[0] = not flip[0]
        wait_quiet(targets)
        return order

    # Before any thread: the taskstats reader is a forked process.
    recorder = ExitRecorder() if args.fault_n > 0 else None
    try:
        return measure_all(args, targets, each, recorder)
    finally:
        if recorder is not None:
            recorder.close()


def measure_all(args, targets, each, recorder):
    for name in args.scripts:
        for t in targets:
            t["out"]["scripts"][name] = {"throughput": [None] * len(args.clients), "ticks": 0}
        for t in each():
            r = run_latency(t["port"], name, args.n, args.warmup, args.timeout, t["label"])
            t["out"]["scripts"][name]["latency"] = r
            t["out"]["wrong"] += r["wrong"]
            print("# %s %s: sequential p50 %.1f ms, p99 %.1f ms (%d requests)"
                  % (t["label"], name, r["p50_ms"], r["p99_ms"], args.n),
                  file=sys.stderr, flush=True)
        for t in each() if recorder is not None else ():
            f = run_faults(t["port"], t["pid"], name, args.fault_n, args.warmup, args.timeout,
                           recorder, t["label"])
            t["out"]["scripts"][name]["faults"] = f
            t["out"]["wrong"] += f["wrong"]
            m = f["machine"]
            print("# %s %s: %s faults per request machine-wide (%d sequential requests)"
                  % (t["label"], name, "n/a" if m is None else "%.0f" % (m["pgfault"] / f["n"]),
                     f["n"]), file=sys.stderr, flush=True)
        for i, c in enumerate(args.clients):
            for t in each():
                r = t["out"]["scripts"][name]
                ticks0 = daemon_cpu_ticks(t["pid"])
                tp = run_throughput(t["port"], name, c, args.seconds, args.timeout, t["label"])
                r["ticks"] += daemon_cpu_ticks(t["pid"]) - ticks0
                r["throughput"][i] = tp
                t["out"]["wrong"] += tp["wrong"]
                print("# %s %s: %d client%s: %.2f requests/s, %d errors"
                      % (t["label"], name, c, "" if c == 1 else "s", tp["rps"], tp["errors"]),
                      file=sys.stderr, flush=True)
        for t in targets:
            r = t["out"]["scripts"][name]
            served = sum(tp["answered"] for tp in r["throughput"])
            r["daemon_cpu_ms_per_request"] = (r["ticks"] * 1000.0 / CLK_TCK / served
                                              if served else None)
    for t in targets:
        t["out"]["idle"] = idle_memory(t["port"], t["pid"])
        with open(t["path"], "w") as f:
            json.dump(t["out"], f, indent=1)
    return 3 if any(t["out"]["wrong"] for t in targets) else 0


# --- the report --------------------------------------------------------------------------------

def fmt(v, digits):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return "%.*f" % (digits, v)


def ratio(a, b):
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or \
            (isinstance(b, float) and math.isnan(b)) or b == 0:
        return "-"
    return "%.2f" % (a / b)


FAULT_ROWS = (  # (key, label): see the comment above PAGE_FAULT_GROUPS
    ("machine", "faults/req, machine-wide (pgfault)"),
    ("machine_maj", "major faults/req, machine-wide (pgmajfault)"),
    ("daemon", "faults/req: daemon"),
    ("zygote", "faults/req: zygote"),
    ("sandbox", "faults/req: sandboxes"),
    ("guardian", "faults/req: guardians"),
    ("helper", "faults/req: daemon's helpers"),
    ("client", "faults/req: client"),
    ("ours", "faults/req: ours (the six above)"),
    ("ours_maj", "major faults/req: ours"),
    ("others", "faults/req: not ours (machine - ours)"),
    ("reaped", "faults/req: reaped by the daemon (cminflt)"),
)


def fault_figures(f):
    """-> {key of FAULT_ROWS: total over the run or None}, {key: why}; "none" for the zygote of a
    cold daemon."""
    if f is None:
        return {}, {}
    why = dict(f.get("why", {}))
    m, g = f.get("machine"), f.get("groups", {})
    v = {"machine": None if m is None else m["pgfault"],
         "machine_maj": None if m is None else m["pgmajfault"]}
    for k in PAGE_FAULT_GROUPS:
        v[k] = None if g.get(k) is None else g[k]["min"] + g[k]["maj"]
    if why.get("zygote") == "no zygote (cold start)":
        v["zygote"] = "none"
        del why["zygote"]
    parts = [v[k] for k in PAGE_FAULT_GROUPS if v[k] != "none"]
    v["ours"] = None if None in parts else sum(parts)
    majs = [g[k]["maj"] for k in PAGE_FAULT_GROUPS if g.get(k) is not None]
    v["ours_maj"] = None if v["ours"] is None else sum(majs)
    v["others"] = None if v["ours"] is None or v["machine"] is None else v["machine"] - v["ours"]
    r = f.get("reaped")
    v["reaped"] = None if r is None else r["min"] + r["maj"]
    return v, why


def fault_rows(name, fc, fw):
    vc, why_c = fault_figures(fc)
    vw, why_w = fault_figures(fw)
    rows = []

    def per_req(v, f, key):
        x = v.get(key)
        if x is None or x == "none" or not f or not f.get("n"):
            return x
        return x / float(f["n"])

    def text(x):
        if x == "none":
            return "none"
        if x is not None and abs(x) < 0.05:
            x = 0.0  # not "-0.0"
        return fmt(x, 0 if x is not None and abs(x) >= 100 else 1)

    for key, label in FAULT_ROWS:
        a, b = per_req(vc, fc, key), per_req(vw, fw, key)
        num = (lambda x: None if x == "none" else x)
        # Other work on the machine is no property of either daemon: no ratio.
        rows.append(("%s  %s" % (name, label), text(a), text(b),
                     "-" if key == "others" else ratio(num(a), num(b))))

    def procs(f):
        g = (f or {}).get("groups") or {}
        if not f or not f.get("n") or any(g.get(k) is None for k in ("sandbox", "guardian",
                                                                     "helper")):
            return "n/a"
        return "/".join("%.2f" % (g[k]["processes"] / float(f["n"]))
                        for k in ("sandbox", "guardian", "helper"))

    rows.append(("%s  processes ended/req: sandbox/guardian/helper" % name, procs(fc), procs(fw),
                 "-"))
    for label, why in (("cold", why_c), ("warm", why_w)):
        for reason in sorted(set(why.values())):
            keys = [k for k, r in why.items() if r == reason]
            FAULT_NOTES.append("%s %s: n/a (%s): %s" % (label, name, ", ".join(keys), reason))
    return rows


FAULT_NOTES = []


def rows_for(cold, warm):
    """-> list of (label, cold text, warm text, ratio text); None for a separator."""
    rows = []
    for name in SCRIPT_ORDER:
        if name not in cold["scripts"] and name not in warm["scripts"]:
            continue
        c, w = cold["scripts"].get(name), warm["scripts"].get(name)
        get = (lambda d, f: None if d is None else f(d))
        for key, label in (("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"),
                           ("mean_ms", "mean ms")):
            a, b = get(c, lambda d: d["latency"][key]), get(w, lambda d: d["latency"][key])
            rows.append(("%s  %s" % (name, label), fmt(a, 1), fmt(b, 1), ratio(a, b)))
        for i, n in enumerate(cold["clients"]):
            a = get(c, lambda d: d["throughput"][i]["rps"])
            b = get(w, lambda d: d["throughput"][i]["rps"])
            rows.append(("%s  req/s, %d client%s" % (name, n, "" if n == 1 else "s"), fmt(a, 2),
                         fmt(b, 2), ratio(a, b)))
        errs = [get(d, lambda d: "/".join([str(d["latency"]["errors"])]
                                          + [str(t["errors"]) for t in d["throughput"]]))
                for d in (c, w)]
        rows.append(("%s  errors (seq/%s)" % (name, "/".join(str(n) for n in cold["clients"])),
                     errs[0] or "n/a", errs[1] or "n/a", "-"))
        a = get(c, lambda d: d["daemon_cpu_ms_per_request"])
        b = get(w, lambda d: d["daemon_cpu_ms_per_request"])
        rows.append(("%s  daemon's own CPU ms/req" % name, fmt(a, 2), fmt(b, 2), ratio(a, b)))
        fc, fw = get(c, lambda d: d.get("faults")), get(w, lambda d: d.get("faults"))
        if fc is not None or fw is not None:
            rows.extend(fault_rows(name, fc, fw))
        rows.append(None)

    def mib(kib):
        return None if kib is None else kib / 1024.0

    def idle_count(d):
        i = d["idle"]
        if i is None:
            return "n/a"
        return "none" if not i["sandboxes"] else "%d (%s)" % (i["sandboxes"],
                                                              ",".join(i["sandbox_comms"]))

    def uss(d, key, *counts):
        if d["idle"] is None:
            return "n/a"
        if not sum(d["idle"][c] for c in counts):
            return "none"
        return fmt(mib(d["idle"][key]), 1)

    def daemon_uss(d):
        return None if d["idle"] is None else mib(d["idle"]["daemon_uss_kib"])

    rows.append(("idle sandboxes", idle_count(cold), idle_count(warm), "-"))
    rows.append(("USS per idle sandbox MiB", uss(cold, "sandbox_uss_kib", "sandboxes"),
                 uss(warm, "sandbox_uss_kib", "sandboxes"), "-"))
    rows.append(("zygote USS MiB", uss(cold, "zygote_uss_kib", "zygotes"),
                 uss(warm, "zygote_uss_kib", "zygotes"), "-"))
    rows.append(("zygote + idle sandboxes PSS MiB", uss(cold, "pool_pss_kib", "sandboxes", "zygotes"),
                 uss(warm, "pool_pss_kib", "sandboxes", "zygotes"), "-"))
    a, b = daemon_uss(cold), daemon_uss(warm)
    rows.append(("daemon USS MiB (idle, at end)", fmt(a, 1), fmt(b, 1), ratio(a, b)))
    return rows


def load(path, label):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        print("# note: no %s results (%s)" % (label, path))
        return None


def stub(other, label):
    """Results of a configuration that did not run: every figure n/a."""
    return {"label": label, "n": other["n"], "warmup": other.get("warmup", 3),
            "seconds": other["seconds"], "clients": other["clients"], "scripts": {},
            "idle": None}


def report(args):
    cold, warm = load(args.cold, "cold"), load(args.warm, "warm")
    if cold is None and warm is None:
        print("## %s: no results" % args.title)
        return 1
    cold = cold or stub(warm, "cold")
    warm = warm or stub(cold, "warm")
    rows = rows_for(cold, warm)
    head = ("script  metric", "cold", "warm", "cold/warm")
    widths = [max(len(r[i]) for r in rows + [head] if r is not None) for i in range(4)]

    def line(r):
        return "%-*s | %*s | %*s | %*s" % (widths[0], r[0], widths[1], r[1], widths[2], r[2],
                                             widths[3], r[3])

    print("## %s" % args.title)
    print("# sequential: %d requests after %d uncounted warm-ups, one persistent connection; "
          "throughput: %s s per run, each client its own persistent connection; the two "
          "configurations measured in turn"
          % (cold["n"], cold.get("warmup", 3), "%g" % cold["seconds"]))
    print("# req/s counts correct answers over the run including the requests still running at "
          "its end; daemon's own CPU = utime+stime of the daemon process itself (not its "
          "children: sandboxes, zygote) over the three throughput runs / requests answered")
    print("# memory, once idle at the end: USS = pages only that process maps (the zygote's "
          "pages its sandboxes still share are in neither USS); PSS = all their pages, shared "
          "ones split among the sharers, summed over the zygote and the idle sandboxes")
    if any("faults" in s for s in list(cold["scripts"].values()) + list(warm["scripts"].values())):
        print("# faults/req: page faults over %s sequential requests after %d uncounted warm-ups "
              "(the pool refilled before the first, until the last sandbox is reaped and its "
              "replacement made after the last) / requests; machine-wide = /proc/vmstat, the "
              "client and all other work on the machine included; per group = the kernel's "
              "per-task counts (minflt + majflt): daemon and zygote from /proc/PID/stat, "
              "sandboxes / guardians / helpers from the taskstats exit record of every process "
              "of the daemon's tree that ended in the run, client from its getrusage; "
              "reaped = the daemon's cminflt + cmajflt (a cross-check: it misses warm cloud "
              "sandboxes); see tests/bench_client.py"
              % (cold.get("fault_n") or warm.get("fault_n"), cold.get("warmup", 3)))
    print("# cold/warm: above 1 = warm is lower (good for latency, CPU, memory, faults), below 1 "
          "= warm is higher (good for req/s)")
    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        if r is None:
            print("-+-".join("-" * w for w in widths))
        else:
            print(line(r))
    for note in FAULT_NOTES:
        print("# faults " + note)
    for d in (cold, warm):
        probe = ((d.get("health") or {}).get("probe") or {}).get("warm_start")
        print("# %s daemon's /health: warm_start %s" % (d["label"], "probe not reported" if probe
              is None else "%s (%s)" % ("ok" if probe.get("ok") else "NOT ok", probe.get("detail"))))
    for d in (cold, warm):
        notes = []
        for name, s in d["scripts"].items():
            extra = s["latency"]["connections"] - 1
            extra += sum(t["connections"] - t["clients"] for t in s["throughput"])
            if extra > 0:
                notes.append("%s: %d reconnections (connection not kept alive)" % (name, extra))
        if notes:
            print("# note (%s): %s" % (d["label"], "; ".join(notes)))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)

    def common(sp, pid=False):
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--timeout", type=float, default=120.0, help="socket timeout (s)")
        if pid:
            sp.add_argument("--pid", type=int, required=True, help="the daemon's pid")

    sp = sub.add_parser("health")
    common(sp, pid=True)
    sp = sub.add_parser("latency")
    common(sp)
    sp.add_argument("--script", choices=SCRIPT_ORDER, required=True)
    sp.add_argument("--n", type=int, default=50)
    sp.add_argument("--warmup", type=int, default=3)
    sp = sub.add_parser("throughput")
    common(sp)
    sp.add_argument("--script", choices=SCRIPT_ORDER, required=True)
    sp.add_argument("--clients", type=int, default=4)
    sp.add_argument("--seconds", type=float, default=10.0)
    sp = sub.add_parser("faults")
    common(sp, pid=True)
    sp.add_argument("--script", choices=SCRIPT_ORDER, required=True)
    sp.add_argument("--n", type=int, default=100)
    sp.add_argument("--warmup", type=int, default=3)
    sub.add_parser("machine")
    sp = sub.add_parser("quiet")
    common(sp, pid=True)
    sp = sub.add_parser("measure")
    sp.add_argument("--target", nargs=4, action="append", required=True,
                    metavar=("LABEL", "PORT", "PID", "OUT"), help="a daemon; repeat for each")
    sp.add_argument("--timeout", type=float, default=120.0, help="socket timeout (s)")
    sp.add_argument("--n", type=int, default=50)
    sp.add_argument("--fault-n", type=int, default=100,
                    help="sequential requests of the page-fault run (0: none)")
    sp.add_argument("--warmup", type=int, default=3)
    sp.add_argument("--seconds", type=float, default=10.0)
    sp.add_argument("--clients", default="1,4,16")
    sp.add_argument("--scripts", default=",".join(SCRIPT_ORDER))
    sp = sub.add_parser("report")
    sp.add_argument("--title", default="pyexecd benchmark")
    sp.add_argument("cold")
    sp.add_argument("warm")
    args = p.parse_args()

    if args.mode == "health":
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                if read_status(args.pid).get("State", "Z").startswith("Z"):
                    return 1
            except OSError:
                return 1
            try:
                status, h = health(args.port, timeout=2)
                if status == 200:
                    print(json.dumps(h))
                    return 0
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.1)
        return 1
    if args.mode == "latency":
        r = run_latency(args.port, args.script, args.n, args.warmup, args.timeout)
        print("%s: %d sequential requests: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, mean %.1f ms, "
              "%d errors" % (args.script, r["n"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
                             r["mean_ms"], r["errors"]))
        return 3 if r["wrong"] else 0
    if args.mode == "throughput":
        r = run_throughput(args.port, args.script, args.clients, args.seconds, args.timeout)
        print("%s: %d clients, %.0f s: %.2f requests/s (%d correct in %.1f s), %d errors"
              % (args.script, r["clients"], r["seconds"], r["rps"], r["ok"], r["elapsed_s"],
                 r["errors"]))
        return 3 if r["wrong"] else 0
    if args.mode == "quiet":
        wait_quiet([{"port": args.port, "pid": args.pid}])
        return 0
    if args.mode == "machine":
        print(machine_line())
        return 0
    if args.mode == "faults":
        recorder = ExitRecorder()
        try:
            f = run_faults(args.port, args.pid, args.script, args.n, args.warmup, args.timeout,
                           recorder)
        finally:
            recorder.close()
        v, why = fault_figures(f)
        print("%s: %d sequential requests, faults per request: %s" % (
            args.script, f["n"], ", ".join(
                "%s %s" % (k, "none" if v.get(k) == "none" else
                           "n/a" if v.get(k) is None else "%.1f" % (v[k] / float(f["n"])))
                for k, _ in FAULT_ROWS)))
        g = f["groups"]
        if all(g.get(k) is not None for k in ("sandbox", "guardian", "helper")):
            print("processes ended per request: %s" % ", ".join(
                "%s %.2f" % (k, g[k]["processes"] / float(f["n"]))
                for k in ("sandbox", "guardian", "helper")))
        for k, reason in sorted(why.items()):
            print("n/a %s: %s" % (k, reason))
        return 3 if f["wrong"] else 0
    if args.mode == "measure":
        args.clients = [int(c) for c in args.clients.split(",") if c]
        args.scripts = [s for s in args.scripts.split(",") if s]
        for s in args.scripts:
            if s not in SCRIPTS:
                p.error("unknown script %r (known: %s)" % (s, ", ".join(SCRIPT_ORDER)))
        return measure(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
