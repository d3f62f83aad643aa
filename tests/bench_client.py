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
                               [--n N] [--seconds D] [--clients 1,4,16] [--scripts a,b,c]
        everything bench.sh reports, for each daemon (configuration) given, as JSON; the
        daemons are measured interleaved (each measurement on every daemon in turn)
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
import socket
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


def measure(args):
    """Measures every target (daemon configuration) with the same requests, interleaved: each
    measurement (a script's sequential run, one throughput run) is made on every target in turn,
    the order alternating, so that a change of load on the machine affects all of them alike."""
    targets = []
    for label, port, pid, path in args.target:
        t = {"label": label, "port": int(port), "pid": int(pid), "path": path}
        t["out"] = {"label": label, "pid": t["pid"], "n": args.n, "warmup": args.warmup,
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
    print("# cold/warm: above 1 = warm is lower (good for latency, CPU, memory), below 1 = warm "
          "is higher (good for req/s)")
    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        if r is None:
            print("-+-".join("-" * w for w in widths))
        else:
            print(line(r))
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
    sp = sub.add_parser("measure")
    sp.add_argument("--target", nargs=4, action="append", required=True,
                    metavar=("LABEL", "PORT", "PID", "OUT"), help="a daemon; repeat for each")
    sp.add_argument("--timeout", type=float, default=120.0, help="socket timeout (s)")
    sp.add_argument("--n", type=int, default=50)
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
