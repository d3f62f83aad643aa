"""Shared helpers for the pyexecd black-box suites (api_test.py, hostile_test.py).

Standard library only. Every network operation has a timeout, every test runs under a watchdog, and
the last line a suite prints is `N passed, N failed`.

The suites only ever talk to the daemon under test on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import queue
import socket
import sys
import textwrap
import threading
import time
import traceback
import urllib.parse


class Config:
    """What the suite knows about the daemon under test (the limits it was started with)."""

    url = "http://127.0.0.1:8080"
    host = "127.0.0.1"
    port = 8080
    wall_ms = 5000
    cpu_s = 3
    request_ms = 3000
    header_ms = 3000
    idle_ms = 15000
    stdout_bytes = 65536
    stderr_bytes = 65536
    result_bytes = 65536
    script_bytes = 65536
    max_sandboxes = 2
    queue_length = 32
    queue_wait_ms = 0
    slack_s = 5.0
    jobs = 2
    secret = ""
    daemon_pid = 0
    sandbox_uid = 100000
    groups = ("main",)
    only = ""
    skip = ()

    @property
    def body_limit(self):
        return 6 * self.script_bytes + 1024

    @property
    def wall_s(self):
        return self.wall_ms / 1000.0

    @property
    def request_timeout(self):
        """Socket timeout for an ordinary request: long enough for a sandbox that hits the wall."""
        return self.wall_s * 2 + self.slack_s + 20


CFG = Config()


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    pass


# --------------------------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers  # dict: lower-case name -> value (repeated headers joined by ", ")
        self.body = body
        self.elapsed = elapsed
        try:
            self.json = json.loads(body.decode("utf-8"))
        except Exception:
            self.json = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def describe(self, limit=700):
        body = self.body
        more = ""
        if len(body) > limit:
            more = "... (%d bytes in all)" % len(body)
            body = body[:limit]
        return "HTTP %s, Content-Type %r, %.2fs, body %r%s" % (
            self.status, self.header("content-type"), self.elapsed, body, more)


def _headers_dict(pairs):
    out = {}
    for name, value in pairs:
        name = name.lower()
        out[name] = value if name not in out else out[name] + ", " + value
    return out


def request(method, path, body=None, headers=None, content_type="application/json", timeout=None):
    """One request on a fresh connection. body: bytes, str, or a dict/list (sent as JSON)."""
    if timeout is None:
        timeout = CFG.request_timeout
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode("utf-8")
    hdrs = {}
    if body is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(CFG.host, CFG.port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, _headers_dict(resp.getheaders()), data,
                        time.monotonic() - start)
    finally:
        conn.close()


def execute(script, timeout=None, dedent=True):
    """POST /execute {"script": script}."""
    if dedent:
        script = textwrap.dedent(script).strip("\n") + "\n"
    return request("POST", "/execute", {"script": script}, timeout=timeout)


def health(timeout=10):
    return request("GET", "/health", timeout=timeout)


class RawConn:
    """A raw TCP connection to the daemon, for keep-alive, pipelining and misbehaving clients."""

    def __init__(self, timeout=10):
        self.sock = socket.create_connection((CFG.host, CFG.port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no data from the daemon in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            if not self._fill(deadline):
                raise EOFError("connection closed (had %r)" % self.buf[:200])
        idx = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:idx], self.buf[idx:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout=10, head=False):
        """Reads one response. Raises EOFError if the peer closed first, socket.timeout if slow."""
        start = time.monotonic()
        deadline = start + timeout
        header_blob = self._read_until(b"\r\n\r\n", deadline)
        lines = header_blob.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise TestFailure("malformed status line %r" % lines[0])
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        pairs = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                pairs.append((name.strip(), value.strip()))
        headers = _headers_dict(pairs)
        if head or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    self._read_until(b"\r\n", deadline)  # (trailers are not expected)
                    break
                body += self._read_exact(size, deadline)
                self._read_exact(2, deadline)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]), deadline)
        else:
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        return Response(status, reason, headers, body, time.monotonic() - start)

    def wait_closed(self, timeout):
        """True if the peer closes (EOF or reset) within timeout; data that arrives is kept."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except socket.timeout:
            return False
        except OSError:
            return True


def http_request_bytes(method, path, body=b"", headers=None, content_type="application/json"):
    hdrs = [("Host", "127.0.0.1:%d" % CFG.port)]
    if body or method == "POST":
        if content_type:
            hdrs.append(("Content-Type", content_type))
        hdrs.append(("Content-Length", str(len(body))))
    for k, v in (headers or {}).items():
        hdrs.append((k, v))
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in hdrs)
    return head.encode("latin-1") + b"\r\n" + body


def execute_body(script):
    return json.dumps({"script": textwrap.dedent(script).strip("\n") + "\n"}).encode()


# --------------------------------------------------------------------------------------------
# Assertions (every failure message shows what the daemon answered)


def check(cond, message, resp=None):
    if not cond:
        if resp is not None:
            message += "; got " + resp.describe()
        raise TestFailure(message)


def expect_json(resp):
    ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
    check(ctype == "application/json", "Content-Type must be application/json", resp)
    check(isinstance(resp.json, dict), "body must be a JSON object", resp)
    return resp.json


def expect_error(resp, status, etype):
    """A documented failure: status, JSON body, error.type and a non-empty error.message."""
    check(resp.status == status, "expected HTTP %d %s" % (status, etype), resp)
    body = expect_json(resp)
    err = body.get("error")
    check(isinstance(err, dict), "body must have an error object", resp)
    check(err.get("type") == etype, "expected error.type %r" % etype, resp)
    check(isinstance(err.get("message"), str) and err.get("message"),
          "error.message must be a non-empty string", resp)
    return body


def expect_ran(resp):
    """stdout and stderr are present (strings) whenever the script ran."""
    body = expect_json(resp)
    check(isinstance(body.get("stdout"), str), "stdout must be present when the script ran", resp)
    check(isinstance(body.get("stderr"), str), "stderr must be present when the script ran", resp)
    return body


def expect_ok(resp):
    check(resp.status == 200, "expected HTTP 200", resp)
    body = expect_json(resp)
    check("result" in body, "a success body has result", resp)
    check("error" not in body, "a success body has no error", resp)
    expect_ran(resp)
    return body


def expect_result(resp, value):
    body = expect_ok(resp)
    check(body["result"] == value and type(body["result"]) is type(value),
          "expected result %r" % (value,), resp)
    return body


def expect_healthy_resp(resp):
    """A /health answer read off a raw connection: 200 and status ok."""
    check(resp.status == 200 and isinstance(resp.json, dict) and resp.json.get("status") == "ok",
          "expected a healthy /health answer", resp)


def expect_healthy(timeout=10):
    try:
        resp = health(timeout=timeout)
    except Exception as exc:
        raise TestFailure("GET /health failed: %r (did the daemon die?)" % exc)
    check(resp.status == 200, "GET /health must answer 200", resp)
    check(isinstance(resp.json, dict) and resp.json.get("status") == "ok",
          "GET /health must say status ok", resp)
    return resp.json


def expect_serving():
    """The daemon is healthy and still runs a script."""
    expect_healthy()
    expect_result(execute("def main():\n    return 'still serving'\n"), "still serving")


# --------------------------------------------------------------------------------------------
# Processes a request leaves behind (seen in this host's /proc)


def process_with_marker(marker):
    """Host pids whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def expect_no_marker_processes(marker, grace=3.0):
    deadline = time.monotonic() + grace
    while True:
        left = process_with_marker(marker)
        if not left:
            return
        if time.monotonic() > deadline:
            raise TestFailure("processes from a finished request still run: pids %r" % left)
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# Registry and runner


TESTS = []


def test(fn=None, *, group="main", slow=False, last=False, timeout=None):
    """Registers a test. slow tests run in a small pool; last tests run after all others."""
    def register(f):
        TESTS.append(dict(name=f.__name__, fn=f, group=group, slow=slow, last=last,
                          timeout=timeout))
        return f
    return register(fn) if fn is not None else register


def add_test(name, fn, **kw):
    fn.__name__ = name
    test(fn, **kw)


def health_mode():
    """The mode /health reports ('local' or 'cloud'); cached."""
    if not hasattr(health_mode, "value"):
        resp = health()
        health_mode.value = (resp.json or {}).get("mode")
    return health_mode.value


_print_lock = threading.Lock()


def _say(line):
    with _print_lock:
        print(line, flush=True)


def _run_one(t, results):
    limit = t["timeout"] or (CFG.wall_s * 4 + CFG.slack_s * 2 + 60)
    outcome = {}

    def body():
        try:
            t["fn"]()
            outcome["status"] = "PASS"
        except Skip as exc:
            outcome["status"] = "SKIP"
            outcome["reason"] = str(exc)
        except TestFailure as exc:
            outcome["status"] = "FAIL"
            outcome["reason"] = str(exc)
        except Exception as exc:
            outcome["status"] = "FAIL"
            tb = traceback.extract_tb(exc.__traceback__)
            where = ("%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno)) if tb else "?"
            outcome["reason"] = "%s: %s (at %s)" % (type(exc).__name__, exc, where)

    th = threading.Thread(target=body, daemon=True)
    start = time.monotonic()
    th.start()
    th.join(limit)
    took = time.monotonic() - start
    if th.is_alive():
        outcome = dict(status="FAIL", reason="test did not finish within %.0fs" % limit)
    status = outcome["status"]
    line = "%s %s (%.1fs)" % (status, t["name"], took)
    if "reason" in outcome:
        line += ": " + outcome["reason"].replace("\n", "\\n")
    _say(line)
    results.append(status)


def parse_args(argv, description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", required=True, help="http://127.0.0.1:PORT of the daemon under test")
    for name, default in (("wall-ms", 5000), ("cpu-s", 3), ("request-ms", 3000),
                          ("header-ms", 3000), ("idle-ms", 15000),
                          ("stdout-bytes", 65536), ("stderr-bytes", 65536),
                          ("result-bytes", 65536), ("script-bytes", 65536),
                          ("max-sandboxes", 2), ("queue-length", 32), ("queue-wait-ms", 0)):
        p.add_argument("--" + name, type=int, default=default,
                       help="the daemon's --%s (default %d)" % (name, default))
    p.add_argument("--slack-s", type=float, default=float(os.environ.get("PYEXECD_TEST_SLACK_S", 5)),
                   help="extra seconds allowed on top of a limit before a response counts as late")
    p.add_argument("--jobs", type=int, default=0, help="slow tests run this many at a time "
                   "(default: --max-sandboxes)")
    p.add_argument("--group", default="main", help="comma-separated test groups to run")
    p.add_argument("--only", default="", help="run only tests whose name contains this")
    p.add_argument("--skip", default="", help="comma-separated substrings: skip tests whose "
                   "name contains one")
    p.add_argument("--sandbox-uid", type=int, default=100000,
                   help="the daemon's --sandbox-uid (first host uid of the sandboxes)")
    p.add_argument("--daemon-pid", type=int, default=0, help="pid of the daemon (drain test)")
    p.add_argument("--list", action="store_true", help="list the tests and exit")
    args = p.parse_args(argv)
    url = urllib.parse.urlsplit(args.url)
    if url.hostname != "127.0.0.1":
        p.error("the suites only talk to 127.0.0.1")
    CFG.url = args.url
    CFG.host = url.hostname
    CFG.port = url.port or 80
    CFG.wall_ms = args.wall_ms
    CFG.cpu_s = args.cpu_s
    CFG.request_ms = args.request_ms
    CFG.header_ms = min(args.header_ms, args.request_ms)
    CFG.idle_ms = args.idle_ms
    CFG.stdout_bytes = args.stdout_bytes
    CFG.stderr_bytes = args.stderr_bytes
    CFG.result_bytes = args.result_bytes
    CFG.script_bytes = args.script_bytes
    CFG.max_sandboxes = args.max_sandboxes
    CFG.queue_length = args.queue_length
    CFG.queue_wait_ms = args.queue_wait_ms
    CFG.slack_s = args.slack_s
    CFG.jobs = args.jobs or max(1, args.max_sandboxes)
    CFG.groups = tuple(g for g in args.group.split(",") if g)
    CFG.only = args.only
    CFG.skip = tuple(x for x in args.skip.split(",") if x)
    CFG.daemon_pid = args.daemon_pid
    CFG.sandbox_uid = args.sandbox_uid
    CFG.secret = os.environ.get("PYEXECD_TEST_SECRET", "")
    return args


def main(argv=None, description="pyexecd black-box tests"):
    args = parse_args(sys.argv[1:] if argv is None else argv, description)
    selected = [t for t in TESTS if t["group"] in CFG.groups and CFG.only in t["name"]
                and not any(x in t["name"] for x in CFG.skip)]
    if args.list:
        for t in selected:
            print(t["group"], t["name"])
        return 0
    results = []
    slow = [t for t in selected if t["slow"] and not t["last"]]
    serial = [t for t in selected if not t["slow"] and not t["last"]]
    last = [t for t in selected if t["last"]]

    # Slow tests (most wait for a limit) run a few at a time: no more than there are sandboxes,
    # so none of them is measured while queued behind another.
    todo = queue.Queue()
    for t in slow:
        todo.put(t)

    def worker():
        while True:
            try:
                t = todo.get_nowait()
            except queue.Empty:
                return
            _run_one(t, results)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(min(CFG.jobs, len(slow)))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for t in serial + last:
        _run_one(t, results)
    passed = results.count("PASS")
    failed = results.count("FAIL")
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed or not results else 0
