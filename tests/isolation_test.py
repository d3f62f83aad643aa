#!/usr/bin/python3
"""pyexecd isolation suite: requests against each other, not only against the host.

    tests/isolation_test.py --url http://127.0.0.1:PORT [--wall-ms N ...]

Each test models one attack by a request on another: two running at once (the daemon under test
has two sandbox slots) trying to meet, or one leaving something for the next in its slot, or
racing the cleanup, or holding memory past the caps, or escaping the guardian. Each asserts the
denial and then that the neighbour, the host and the daemon are intact: GET /health is 200, both
slots run a fresh request (one that imports modules no zygote preloads, so a damaged slot root
shows) and find /tmp empty, the host files this suite planted are untouched, and every answer was
a documented JSON one (never a 500).

Runs on the daemon's host as root (it plants host files and scans /proc for processes that
outlive their request). Every socket it opens is on 127.0.0.1 or an AF_UNIX name.
"""

import os
import secrets
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import (CFG, TestFailure, check, execute, expect_healthy, expect_json,  # noqa: E402
                     expect_no_marker_processes, expect_result, main, test)

TOKEN = "iso" + secrets.token_hex(8)
DOCUMENTED = {200, 400, 403, 413, 422, 503, 504}
VICTIM_DIR = "/var/tmp/pyexecd-isolation-" + TOKEN
VICTIMS = {VICTIM_DIR + "/victim": b"root's file", "/tmp/pyexecd-isolation-" + TOKEN: b"host tmp"}
MIB = 1 << 20


def scale():
    """Waits grow with the daemon's limits (the gVisor leg runs with a 3x wall)."""
    return max(1.0, CFG.wall_s / 5.0)


def plant_victims():
    os.makedirs(VICTIM_DIR, exist_ok=True)
    for path, data in VICTIMS.items():
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)


def documented(resp):
    """Any answer but a documented JSON one (a 500, a traceback of the server) fails."""
    check(resp.status in DOCUMENTED, "every answer must be a documented status", resp)
    body = expect_json(resp)
    if resp.status != 200:
        err = body.get("error") or {}
        check(isinstance(err.get("type"), str) and err.get("type") != "InternalError",
              "an error must be a documented type", resp)
    return body


def result_of(resp):
    """The result of a 200, else None (the request was refused: a denial as good as any)."""
    body = documented(resp)
    return body.get("result") if resp.status == 200 else None


NEIGHBOUR = """
import email.mime.text, json, os, numpy
def main():
    return {"tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm"))
            if os.path.isdir("/dev/shm") else []}
"""


def concurrently(scripts, delays=None):
    """Runs the scripts at once (each after its delay in seconds); their responses, in order."""
    out = [None] * len(scripts)
    delays = delays or [0] * len(scripts)

    def run(i):
        time.sleep(delays[i])
        try:
            out[i] = execute(scripts[i])
        except Exception as exc:  # noqa: BLE001 (reported below)
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(scripts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CFG.request_timeout + 30)
    for i, r in enumerate(out):
        if not hasattr(r, "status"):
            raise TestFailure("request %d did not answer: %r" % (i, r))
    return out


def intact():
    """The daemon, both slots and the host files after an attack."""
    expect_healthy()
    for resp in concurrently([NEIGHBOUR, NEIGHBOUR]):
        expect_result(resp, {"tmp": [], "shm": []})
    for path, data in VICTIMS.items():
        try:
            with open(path, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        check(same, "the host file %s must be untouched" % path)


def pair(a, b, hold=2.5):
    """A sets something up and holds it for `hold` seconds; B starts once A is set up."""
    s = scale()
    fill = {"TOKEN": TOKEN, "HOLD": repr(hold * s)}
    a, b = (x % fill if "%(" in x else x for x in (a, b))
    return concurrently([a, b], [0, 0.8 * s])


# --------------------------------------------------------------------------------------------
# Two requests at once, trying to meet


@test
def abstract_unix_sockets_do_not_join_concurrent_requests():
    """A listens on an abstract AF_UNIX name, B connects to it: the channel the review used."""
    a, b = pair("""
import socket
def main():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\\0pyexecd-%(TOKEN)s")
    except OSError as e:
        return "no socket: %%d" %% e.errno
    s.listen(1)
    s.settimeout(%(HOLD)s)
    try:
        c, _ = s.accept()
        return "met " + c.recv(64).decode()
    except OSError:
        return "alone"
""", """
import socket
def main():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("\\0pyexecd-%(TOKEN)s")
        s.send(b"hello")
        return "connected"
    except OSError as e:
        return "refused: %%d" %% e.errno
""")
    ra, rb = result_of(a), result_of(b)
    check(not str(ra).startswith("met") and rb != "connected",
          "the requests met over an abstract socket: %r / %r" % (ra, rb))
    intact()


@test
def sysv_shared_memory_does_not_join_requests():
    """A creates a SysV segment under a fixed key and writes a secret; B, running meanwhile, and a
    later request look it up by the key."""
    a_script = """
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def main():
    i = libc.shmget(0x50594558, 4096, 0o1666)
    if i < 0:
        return "shmget: %%d" %% ctypes.get_errno()
    p = libc.shmat(i, None, 0)
    ctypes.memmove(p, b"%(TOKEN)s", len("%(TOKEN)s"))
    time.sleep(%(HOLD)s)
    return "made"
"""
    b_script = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def main():
    i = libc.shmget(0x50594558, 0, 0)
    if i < 0:
        return "absent: %d" % ctypes.get_errno()
    p = libc.shmat(i, None, 0o10000)
    return ctypes.string_at(p, 64).split(b"\\0")[0].decode("latin-1")
"""
    a, b = pair(a_script, b_script)
    later = execute(b_script)
    for r in (b, later):
        check(TOKEN not in str(result_of(r)), "another request read the segment", r)
    documented(a)
    intact()


@test
def posix_message_queues_do_not_join_requests():
    """A opens a POSIX message queue and sends a secret; B opens the same name and reads."""
    a, b = pair("""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
def main():
    q = libc.mq_open(b"/pyexecd-%(TOKEN)s", os.O_CREAT | os.O_RDWR, 0o666, None)
    if q < 0:
        return "mq_open: %%d" %% ctypes.get_errno()
    libc.mq_send(q, b"%(TOKEN)s", len("%(TOKEN)s"), 0)
    time.sleep(%(HOLD)s)
    return "sent"
""", """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def main():
    q = libc.mq_open(b"/pyexecd-%(TOKEN)s", os.O_RDONLY | os.O_NONBLOCK)
    if q < 0:
        return "absent: %%d" %% ctypes.get_errno()
    buf = ctypes.create_string_buffer(8192)
    n = libc.mq_receive(q, buf, 8192, None)
    return buf.raw[:max(n, 0)].decode("latin-1")
""")
    documented(a)
    check(TOKEN not in str(result_of(b)), "another request read the queue", b)
    intact()


@test
def dev_shm_and_tmp_are_private_to_a_request():
    """A leaves a secret in /dev/shm and /tmp; B, running meanwhile, looks for it everywhere it
    can walk (its own /tmp and /dev/shm, and the whole tree it sees but /proc and /sys)."""
    a, b = pair("""
import time
def main():
    for d in ("/tmp", "/dev/shm"):
        try:
            with open(d + "/%(TOKEN)s", "w") as f:
                f.write("%(TOKEN)s")
        except OSError:
            pass
    time.sleep(%(HOLD)s)
    return "planted"
""", """
import os
def main():
    found = []
    for top, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/usr")]
        found += [os.path.join(top, f) for f in files if "%(TOKEN)s" in f]
    return found
""")
    check(result_of(a) == "planted", "A must be able to write its own /tmp", a)
    check(result_of(b) == [], "B found A's files", b)
    intact()


@test
def killing_everything_it_can_does_not_reach_the_neighbour():
    """A sends SIGKILL to every process it may (kill(-1) and every pid) while B runs."""
    a, b = pair("""
import os, signal, time
def main():
    end, sent = time.monotonic() + %(HOLD)s, 0
    for pid in range(2, 1 << 15):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
                sent += 1
            except OSError:
                pass
    while time.monotonic() < end:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.01)
    return sent
""", """
import time
def main():
    time.sleep(%(HOLD)s)
    return "survived"
""")
    documented(a)
    expect_result(b, "survived")
    intact()


@test
def proc_and_ptrace_do_not_reach_the_neighbour():
    """B runs a child with a secret on its command line; A looks for it in /proc (cmdline,
    environ, mem) and tries to ptrace every pid it can name."""
    a, b = pair("""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
def main():
    time.sleep(0.5)
    seen, traced = [], []
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
    for pid in pids:
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%%d/%%s" %% (pid, what), "rb") as f:
                    if b"%(TOKEN)s" in f.read():
                        seen.append(pid)
            except OSError:
                pass
    for pid in pids or range(2, 1 << 15):
        if pid != os.getpid() and libc.ptrace(16, pid, None, None) == 0:
            traced.append(pid)
    return {"seen": seen, "traced": traced}
""", """
import subprocess, time
def main():
    p = subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(%(HOLD)s)",
                          "%(TOKEN)s"])
    p.wait()
    return "survived"
""")
    ra = result_of(a)
    check(ra is None or (ra["seen"] == [] and ra["traced"] == []),
          "A reached B's processes: %r" % (ra,), a)
    expect_result(b, "survived")
    intact()


# --------------------------------------------------------------------------------------------
# A request leaving something for the next


LEAVE = """
import os, signal
def main():
    for d in ("/tmp", "/dev/shm"):
        try:
            open(d + "/left-%(TOKEN)s", "w").write("x")
        except OSError:
            pass
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            os.execv("/usr/bin/python3", ["python3", "-c",
                     "import time\\nwhile True:\\n    open('/tmp/ghost', 'w').write('x')\\n"
                     "    time.sleep(0.05)", "%(TOKEN)s-ghost"])
        os._exit(0)
    os.wait()
    signal.setitimer(signal.ITIMER_REAL, 3)
    return "left"
"""


@test
def nothing_of_a_request_reaches_the_next_in_its_slot():
    """Files in /tmp and /dev/shm, a double-forked setsid child that ignores SIGTERM and keeps
    writing, a pending timer: the next requests of both slots (4 in a row) find none of it."""
    documented(execute(LEAVE % {"TOKEN": TOKEN}))
    expect_no_marker_processes(TOKEN + "-ghost")
    for _ in range(2):
        intact()


# --------------------------------------------------------------------------------------------
# Races against cleanup


@test
def renames_and_swaps_racing_the_cleanup_harm_nothing():
    """The script leaves threads and a child renaming directories, swapping a symlink to / with a
    directory, in a /tmp full of symlinks out, hard-link attempts, deep and unreadable
    directories and many entries, and returns while they run."""
    resp = execute("""
import os, threading, time
def churn():
    i = 0
    while True:
        n = i %% 40
        try:
            os.rename("/tmp/a%%d" %% n, "/tmp/x%%d" %% n)
            os.rename("/tmp/x%%d" %% n, "/tmp/deep/d/a%%d" %% n)
            os.rename("/tmp/deep/d/a%%d" %% n, "/tmp/a%%d" %% n)
        except OSError:
            pass
        for make, drop in ((lambda: os.symlink("/", "/tmp/swap"), lambda: os.unlink("/tmp/swap")),
                           (lambda: os.mkdir("/tmp/swap"), lambda: os.rmdir("/tmp/swap"))):
            try:
                make()
                drop()
            except OSError:
                pass
        i += 1
def main():
    for i in range(40):
        os.makedirs("/tmp/a%%d/b/c" %% i)
        open("/tmp/a%%d/b/c/f" %% i, "w").write("x")
    p = "/tmp/deep"
    for _ in range(40):
        os.mkdir(p)
        p += "/d"
    os.mkdir("/tmp/wx", 0o300)
    open("/tmp/wx/f", "w").write("x")
    os.mkdir("/tmp/none", 0)
    for name, to in (("to-root", "/"), ("to-etc", "/etc"), ("to-victim", "%(VICTIM)s")):
        os.symlink(to, "/tmp/" + name)
    try:
        os.link("/usr/bin/python3", "/tmp/hard")
    except OSError:
        pass
    for i in range(2000):
        open("/tmp/n%%d" %% i, "w").close()
    for _ in range(2):
        threading.Thread(target=churn, daemon=True).start()
    if os.fork() == 0:
        churn()
    time.sleep(0.3)
    return "raced"
""" % {"VICTIM": VICTIM_DIR + "/victim"})
    documented(resp)
    intact()


# --------------------------------------------------------------------------------------------
# Memory that escapes the caps


def written_mib(resp):
    r = result_of(resp)
    return r.get("mib", 0) if isinstance(r, dict) else 0


@test
def memfd_cannot_hold_memory_past_the_caps():
    """A memfd filled with 1 GiB (the suite's daemon has --memory-mb 256)."""
    resp = execute("""
import os
def main():
    try:
        fd = os.memfd_create("big")
    except OSError as e:
        return {"refused": e.errno}
    chunk, n = b"x" * (1 << 20), 0
    try:
        for _ in range(1024):
            os.write(fd, chunk)
            n += 1
    except OSError as e:
        return {"mib": n, "errno": e.errno}
    return {"mib": n}
""")
    check(written_mib(resp) < 512, "a memfd held %d MiB" % written_mib(resp), resp)
    intact()


UNLINKED = """
import os, time, mmap
def main():
    held, n = [], 0
    chunk = b"x" * (1 << 20)
    try:
        for i in range(16):
            %(OPEN)s
            for _ in range(12):
                os.write(fd, chunk)
                n += 1
                time.sleep(0.002)
            %(KEEP)s
    except OSError as e:
        return {"mib": n, "errno": e.errno}
    return {"mib": n}
"""


def expect_tmp_capped(open_stmt, keep_stmt):
    resp = execute(UNLINKED % {"OPEN": open_stmt, "KEEP": keep_stmt})
    # --tmp-mb 32: past it writes fail; a tick's worth (and gVisor's overshoot) more at most.
    check(written_mib(resp) < 100, "/tmp held %d MiB past its 32 MiB cap" % written_mib(resp), resp)
    intact()


@test
def unlinked_open_files_count_against_the_tmp_cap():
    """16 x 12 MiB files in /tmp, each unlinked at once and kept open."""
    expect_tmp_capped('fd = os.open("/tmp/f%d" % i, os.O_RDWR | os.O_CREAT); '
                      'os.unlink("/tmp/f%d" % i)', "held.append(fd)")


@test
def unlinked_mapped_files_count_against_the_tmp_cap():
    """16 x 12 MiB files in /tmp, each mapped, closed and unlinked."""
    expect_tmp_capped('fd = os.open("/tmp/f%d" % i, os.O_RDWR | os.O_CREAT)',
                      'held.append(mmap.mmap(fd, 12 << 20)); os.close(fd); '
                      'os.unlink("/tmp/f%d" % i)')


@test
def unnamed_tmpfiles_count_or_are_refused():
    """16 x 12 MiB O_TMPFILE files (no name for any walk to find), kept open."""
    expect_tmp_capped('fd = os.open("/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)', "held.append(fd)")


# --------------------------------------------------------------------------------------------
# Escapes from the guardian (cloud) or the pid namespace (local)


def spawner(how):
    return """
import ctypes, os, select, threading
libc = ctypes.CDLL(None, use_errno=True)
ARGV = ["/usr/bin/python3", "-c", "import time; time.sleep(60)", "%(TOKEN)s-%(HOW)s"]
def untraced():
    r, w = os.pipe()
    pid = libc.syscall(56, 0x00800000 | 17, 0, 0, 0, 0)
    if pid == 0:
        libc.unshare(0x00020000)  # forbidden in both jails: it must end the child there
        os.write(w, b"escaped")
        os.execv(ARGV[0], ARGV)
    os.close(w)
    if not select.select([r], [], [], 3)[0]:
        return "silent"
    return os.read(r, 16).decode()
def vfork():
    return os.posix_spawn(ARGV[0], ARGV, {})
def threads():
    pids = []
    def one():
        pid = os.fork()
        if pid == 0:
            os.execv(ARGV[0], ARGV)
        pids.append(pid)
    ts = [threading.Thread(target=one) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(pids)
def main():
    return %(HOW)s()
""" % {"TOKEN": TOKEN, "HOW": how}


def expect_no_survivor(how):
    resp = execute(spawner(how))
    check(result_of(resp) != "escaped", "a child made a forbidden call and went on", resp)
    expect_no_marker_processes("%s-%s" % (TOKEN, how))
    intact()


@test
def an_untraced_clone_does_not_escape():
    """clone(CLONE_UNTRACED): a child the guardian would not see, which then makes a forbidden
    call (untraced, the guardian's TRACE rule would only fail it) and reports whether it went on
    (cloud: the clone ends the sandbox; local: seccomp kills the child)."""
    expect_no_survivor("untraced")


@test
def a_vforked_child_does_not_outlive_the_request():
    """posix_spawn (clone with CLONE_VM | CLONE_VFORK) of a sleeper."""
    expect_no_survivor("vfork")


@test
def children_forked_by_threads_do_not_outlive_the_request():
    """Four threads fork a sleeper each, then main returns."""
    expect_no_survivor("threads")


if __name__ == "__main__":
    plant_victims()
    try:
        sys.exit(main(description=__doc__.splitlines()[0]))
    finally:
        for path in VICTIMS:
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(VICTIM_DIR)
        except OSError:
            pass
