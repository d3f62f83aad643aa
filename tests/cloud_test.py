#!/usr/bin/python3
"""pyexecd cloud-jail suite: what only the cloud jail promises, on the host kernel and under gVisor.

    tests/cloud_test.py --url http://127.0.0.1:PORT [--wall-ms N --max-sandboxes N ...]

The cloud jail's seccomp policy (modes/cloud/policy.c) is a default-deny allow-list: dangerous
calls it leaves out are made from inside a sandbox and must end it with 403 SecurityViolation
naming the call, from the main thread and from a second thread that blocked or ignored SIGSYS
first; the calls it answers with an error fail with that error; socket() fails for every family
and socketpair() works for AF_UNIX only; each slot has a private /tmp and uid. Needs only the daemon's HTTP port (no /proc of the daemon's host), so it runs
inside a gVisor sandbox next to the daemon. Every test is skipped unless /health says mode cloud.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import (CFG, Skip, add_test, check, execute, expect_error, expect_ok,  # noqa: E402
                     expect_result, expect_serving, health, health_mode, main, test)

# x86_64 numbers (scmp_sys_resolver): the call never runs, so the arguments are only zeros.
DENIED = [
    ("chmod", 90), ("fchmod", 91), ("fchmodat", 268), ("fchmodat2", 452), ("chown", 92),
    ("fchown", 93), ("fchownat", 260), ("lchown", 94), ("setuid", 105), ("setgid", 106),
    ("setreuid", 113), ("setregid", 114), ("setresuid", 117), ("setresgid", 119),
    ("setfsuid", 122), ("setfsgid", 123), ("setgroups", 116), ("capset", 126), ("mount", 165),
    ("umount2", 166), ("pivot_root", 155), ("chroot", 161), ("fsopen", 430), ("fsmount", 432),
    ("fsconfig", 431), ("fspick", 433), ("move_mount", 429), ("open_tree", 428),
    ("mount_setattr", 442), ("ptrace", 101), ("process_vm_readv", 310),
    ("process_vm_writev", 311), ("process_madvise", 440), ("kcmp", 312), ("pidfd_getfd", 438),
    ("unshare", 272), ("setns", 308), ("bpf", 321), ("keyctl", 250), ("add_key", 248),
    ("request_key", 249), ("perf_event_open", 298), ("userfaultfd", 323), ("kexec_load", 246),
    ("kexec_file_load", 320), ("init_module", 175), ("finit_module", 313),
    ("delete_module", 176), ("create_module", 174), ("io_uring_setup", 425),
    ("io_uring_enter", 426), ("io_uring_register", 427), ("open_by_handle_at", 304),
    ("name_to_handle_at", 303), ("lookup_dcookie", 212), ("fanotify_init", 300),
    ("personality", 135), ("uselib", 134), ("iopl", 172), ("ioperm", 173), ("vhangup", 153),
    ("acct", 163), ("quotactl", 179), ("quotactl_fd", 443), ("swapon", 167), ("swapoff", 168),
    ("reboot", 169), ("syslog", 103), ("clock_settime", 227), ("clock_adjtime", 305),
    ("settimeofday", 164), ("adjtimex", 159), ("seccomp", 317),
    # not on the allow-list either: descriptor passing, SysV IPC, POSIX message queues
    ("sendmsg", 46), ("sendmmsg", 307), ("shmget", 29), ("shmat", 30), ("msgget", 68),
    ("semget", 64), ("mq_open", 240),
]
# Calls denied by their arguments: (name, number, arguments).
DENIED_ARGS = [
    ("clone_newuser", 56, "0x10000000 | 17, 0, 0, 0, 0"),   # CLONE_NEWUSER | SIGCHLD
    ("clone_newnet", 56, "0x40000000 | 17, 0, 0, 0, 0"),    # CLONE_NEWNET | SIGCHLD
    ("clone_newpid", 56, "0x20000000 | 17, 0, 0, 0, 0"),    # CLONE_NEWPID | SIGCHLD
    ("prctl_set_seccomp", 157, "22, 2, 0, 0, 0"),           # PR_SET_SECCOMP, FILTER
    ("clone_untraced", 56, "0x00800000 | 17, 0, 0, 0, 0"),  # CLONE_UNTRACED | SIGCHLD
    ("ioctl_tiocsti", 16, "0, 0x5412, 0"),                  # a terminal request not listed
    ("x32_getpid", 0x40000000 | 39, "0"),                   # another ABI: the bad-arch action
]


def cloud_only():
    if health_mode() != "cloud":
        raise Skip("cloud mode only")


def call_script(nr, args):
    return """
        import ctypes
        def main():
            libc = ctypes.CDLL(None, use_errno=True)
            print("before", flush=True)
            ret = libc.syscall(%d, %s)
            print("after", flush=True)
            return {"returned": ret, "errno": ctypes.get_errno()}
    """ % (nr, args)


def expect_killed(resp):
    body = expect_error(resp, 403, "SecurityViolation")
    check(body.get("stdout") == "before\n",
          "the sandbox must stop at the call: output before it, none after", resp)


def denied_case(name, nr, args="0, 0, 0, 0, 0, 0"):
    def t():
        cloud_only()
        expect_killed(execute(call_script(nr, args)))
    add_test("cloud_denied_%s_is_403" % name, t, slow=True)


for _name, _nr in DENIED:
    denied_case(_name, _nr)
for _name, _nr, _args in DENIED_ARGS:
    denied_case(_name, _nr, _args)


def thread_script(prepare, main_prepare="pass"):
    """A second thread prepares its signal state, makes a forbidden call (ptrace); the main
    thread keeps sleeping: the sandbox must end as a whole, the main thread never returns."""
    return """
        import ctypes, signal, threading, time
        def main():
            libc = ctypes.CDLL(None, use_errno=True)
            def worker():
                %s
                libc.syscall(101, 0, 0, 0, 0)
                print("worker went on", flush=True)
            %s
            print("before", flush=True)
            threading.Thread(target=worker).start()
            for _ in range(40):
                time.sleep(0.05)
            print("main went on", flush=True)
            return "survived"
    """ % (prepare, main_prepare)


def thread_case(name, prepare, main_prepare="pass"):
    def t():
        cloud_only()
        expect_killed(execute(thread_script(prepare, main_prepare)))
    add_test("cloud_forbidden_call_from_thread_%s_kills_whole_sandbox" % name, t, slow=True)


thread_case("plain", "pass")
thread_case("with_sigsys_blocked", "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSYS})")
thread_case("with_sigsys_ignored_and_blocked",
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSYS})",
            "signal.signal(signal.SIGSYS, signal.SIG_IGN)")


@test(slow=True)
def cloud_forbidden_call_with_sigsys_ignored_is_403():
    cloud_only()
    expect_killed(execute("""
        import ctypes, signal
        def main():
            signal.signal(signal.SIGSYS, signal.SIG_IGN)
            libc = ctypes.CDLL(None, use_errno=True)
            print("before", flush=True)
            libc.syscall(101, 0, 0, 0, 0)
            print("after", flush=True)
            return "survived"
    """))


@test(slow=True)
def cloud_forbidden_call_from_a_child_process_kills_whole_sandbox():
    cloud_only()
    expect_killed(execute("""
        import ctypes, os, time
        def main():
            print("before", flush=True)
            if os.fork() == 0:
                ctypes.CDLL(None).syscall(101, 0, 0, 0, 0)
                os._exit(0)
            time.sleep(2)
            print("parent went on", flush=True)
            return "survived"
    """))


@test
def cloud_sockets_fail_and_socketpair_is_unix_only():
    # AF_UNIX socket() fails too: abstract-namespace sockets were a channel between requests.
    cloud_only()
    resp = execute("""
        import errno, socket
        def attempt(family, kind):
            try:
                socket.socket(family, kind).close()
                return "ok"
            except OSError as e:
                return errno.errorcode.get(e.errno, str(e.errno))
        def pair(family):
            try:
                return len(socket.socketpair(family))
            except OSError as e:
                return errno.errorcode.get(e.errno, str(e.errno))
        def main():
            return {"inet": attempt(socket.AF_INET, socket.SOCK_STREAM),
                    "inet6": attempt(socket.AF_INET6, socket.SOCK_DGRAM),
                    "netlink": attempt(socket.AF_NETLINK, socket.SOCK_RAW),
                    "packet": attempt(socket.AF_PACKET, socket.SOCK_RAW),
                    "unix": attempt(socket.AF_UNIX, socket.SOCK_STREAM),
                    "pair": len(socket.socketpair()),
                    "inet_pair": pair(socket.AF_INET)}
    """)
    expect_result(resp, {"inet": "EACCES", "inet6": "EACCES", "netlink": "EACCES",
                         "packet": "EACCES", "unix": "EACCES", "pair": 2,
                         "inet_pair": "EAFNOSUPPORT"})


@test
def cloud_forbidden_call_is_named_in_the_403():
    # Three ways the guardian learns the call: the default action (from the registers), a rule's
    # trace data, another architecture's call.
    cloud_only()
    for nr, args, name in ((90, "0, 0", "chmod"), (157, "22, 2, 0, 0, 0", "prctl"),
                           (0x40000000 | 39, "0", "a call of another architecture")):
        resp = execute(call_script(nr, args))
        body = expect_error(resp, 403, "SecurityViolation")
        check("(%s)" % name in body["error"]["message"], "the message must name %s" % name, resp)


@test
def cloud_answered_calls_fail_and_the_program_goes_on():
    cloud_only()
    resp = execute("""
        import ctypes, errno, mmap, os, tempfile
        libc = ctypes.CDLL(None, use_errno=True)
        def call(nr, *args):
            ret = libc.syscall(nr, *(ctypes.c_long(a) for a in args))
            return errno.errorcode.get(ctypes.get_errno(), "?") if ret == -1 else "ok"
        def main():
            name = ctypes.c_char_p(b"x")
            buf = ctypes.create_string_buffer(16)
            tmp = os.open("/tmp", os.O_RDONLY)
            out = {"memfd_create": call(319, ctypes.addressof(buf), 0),
                   "openat2": call(437, -100, ctypes.addressof(buf), 0, 0),
                   "clone3": call(435, 0, 0),
                   "pidfd_open": call(434, os.getpid(), 0),
                   "o_tmpfile": call(257, tmp, ctypes.cast(ctypes.c_char_p(b"."), ctypes.c_void_p).value,
                                     os.O_TMPFILE | os.O_RDWR, 0o600),
                   "ioctl_fs_getflags": call(16, tmp, 0x80086601, ctypes.addressof(buf)),
                   "ioctl_fionread": call(16, os.pipe()[0], 0x541B, ctypes.addressof(buf)),
                   "prctl_set_dumpable": call(157, 4, 1, 0, 0, 0),
                   "prctl_set_name": call(157, 15, ctypes.cast(name, ctypes.c_void_p).value, 0, 0, 0),
                   "mmap_hugetlb": call(9, 0, 1 << 21, 3, 0x22 | 0x40000, -1, 0)}
            with tempfile.TemporaryFile() as f:
                out["tempfile"] = f.write(b"abc")
            return out
    """)
    expect_result(resp, {"memfd_create": "ENOSYS", "openat2": "ENOSYS", "clone3": "ENOSYS",
                         "pidfd_open": "ENOSYS", "o_tmpfile": "ENOTSUP",  # = EOPNOTSUPP
                         "ioctl_fs_getflags": "ENOTTY", "ioctl_fionread": "ok",
                         "prctl_set_dumpable": "EINVAL", "prctl_set_name": "ok",
                         "mmap_hugetlb": "ENOMEM", "tempfile": 3})


@test
def cloud_tmp_is_private_to_the_sandbox():
    cloud_only()
    resp = execute("""
        import os, stat
        def main():
            st = os.stat("/tmp")
            return {"mode": oct(stat.S_IMODE(st.st_mode)), "mine": st.st_uid == os.getuid(),
                    "empty": os.listdir("/tmp"), "proc": os.listdir("/proc"),
                    "devnull": open("/dev/null", "w").write("x")}
    """)
    expect_result(resp, {"mode": "0o700", "mine": True, "empty": [], "proc": [], "devnull": 1})


@test(slow=True)
def cloud_concurrent_sandboxes_have_distinct_uids():
    cloud_only()
    if CFG.max_sandboxes < 2:
        raise Skip("needs two sandboxes")
    # Only a pair that really ran at the same time says something: each sandbox reports when it
    # ran, and a pair that did not overlap (the second queued behind the first) is tried again.
    script = ("import os, time\ndef main():\n    t = time.time()\n    time.sleep(1.5)\n"
              "    return [os.getuid(), t, time.time()]\n")
    for _ in range(3):
        deadline = time.monotonic() + 30
        while health().json["sandboxes"]["running"] > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        out = [None, None]

        def one(i):
            out[i] = execute(script)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CFG.request_timeout)
        runs = [expect_ok(r)["result"] for r in out if r is not None]
        check(len(runs) == 2, "both requests must be answered", out[0])
        uids = [r[0] for r in runs]
        check(all(CFG.sandbox_uid <= u < CFG.sandbox_uid + CFG.max_sandboxes for u in uids),
              "uids %r must be slot uids" % uids)
        if max(r[1] for r in runs) < min(r[2] for r in runs):
            check(uids[0] != uids[1], "two concurrent sandboxes ran as uids %r" % uids)
            return
    check(False, "in 3 tries, two requests never ran at the same time with 2 sandboxes free")


@test
def cloud_tmp_full_makes_writes_fail_like_a_full_disk():
    cloud_only()
    resp = execute("""
        import errno, os, time
        def main():
            total = 0
            try:
                for i in range(1024):
                    with open("/tmp/f%d" % i, "wb") as f:
                        f.write(b"x" * (1 << 20))
                    total += 1
                    time.sleep(0.002)
                return ["no limit", total]
            except OSError as e:
                return [errno.errorcode.get(e.errno, str(e.errno)), total]
    """)
    body = expect_ok(resp)
    check(body["result"][0] == "EFBIG", "writing past the /tmp cap must fail with EFBIG", resp)


@test(slow=True)
def cloud_too_many_tmp_entries_end_the_sandbox():
    # The guardian's walk of /tmp is slow under gVisor (~0.5 ms a directory): the end may come a
    # few seconds after the cap is passed, so the script keeps going for most of the wall limit.
    cloud_only()
    # It makes 1.5x the cap's entries, then waits without using CPU, so that the CPU limit (which
    # a busy machine reaches first) cannot end it before the guardian's walk does.
    resp = execute("""
        import os, time
        def main():
            print("filling", flush=True)
            start, i = time.monotonic(), 0
            while i < 24576 and time.monotonic() - start < %f:
                os.mkdir("/tmp/d%%d" %% i)
                i += 1
            while time.monotonic() - start < %f:
                time.sleep(0.05)
            return "no limit after %%d entries" %% i
    """ % (CFG.wall_s * 0.8, CFG.wall_s * 0.8))
    body = expect_error(resp, 422, "ExecutionError")
    check("signal 25" in body["error"]["message"], "expected the end by SIGXFSZ", resp)


@test
def cloud_no_new_privs_and_seccomp_from_inside():
    # gVisor's /proc/PID/status has no NoNewPrivs line; prctl answers on both runtimes.
    cloud_only()
    resp = execute("""
        import ctypes
        def main():
            libc = ctypes.CDLL(None, use_errno=True)
            return [libc.prctl(39, 0, 0, 0, 0), libc.prctl(21, 0, 0, 0, 0)]
    """)
    expect_result(resp, [1, 2])  # PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP (2: filter)


@test(slow=True)
def cloud_killing_its_own_uid_in_a_loop_still_ends_at_the_wall():
    # kill(-1) from the sandbox reaches every process of its uid, so a helper that took the uid
    # to kill the sandbox would die first: the end must come from the guardian, as root.
    cloud_only()
    resp = execute("""
        import os, time
        def main():
            print("looping", flush=True)
            while True:
                try:
                    os.kill(-1, 9)
                except OSError:
                    pass
                time.sleep(0.0005)
    """)
    expect_error(resp, 504, "TimeoutError")
    check(resp.elapsed <= CFG.wall_s + CFG.slack_s, "must end within wall + slack", resp)


@test
def cloud_health_reports_the_guardian():
    cloud_only()
    probe = health().json["probe"]
    check(probe.get("seccomp", {}).get("detail", "").find("trace") >= 0,
          "the seccomp probe must name the trace action: %r" % probe.get("seccomp"))
    for item in ("slot_roots", "jail", "tmp", "uids", "network"):
        check(probe.get(item, {}).get("ok") is True, "probe %s must be ok: %r" % (item, probe))


@test(last=True)
def cloud_daemon_still_serves():
    cloud_only()
    expect_serving()


if __name__ == "__main__":
    sys.exit(main(description=__doc__))
