"""pyexecd zygote: warm start for both jails.

The daemon starts this interpreter once and it imports the preload list (numpy and pandas by
default) ahead of any request. It never sees a script.

Local jail: the zygote runs inside the base jail (its own user, mount, net, ipc and uts namespaces,
the rootfs read-only behind pivot_root). For each sandbox the daemon sends the sandbox's pipes, and
the zygote clones a child into fresh pid, mount, net, ipc and uts namespaces, as a child of the
daemon (CLONE_PARENT), so the daemon waits for it and kills it as it does a cold sandbox. The child
finishes its jail (proc, a fresh /tmp, uid, capabilities, fds, seccomp), reseeds what must differ
per request, and runs the harness.

Cloud jail: the zygote runs as root chrooted into the rootfs (no namespaces there). For each
sandbox it forks a child, which lets the daemon's descendants trace it (PR_SET_PTRACER) and waits
for "go". The daemon then forks the sandbox's guardian, as for a cold sandbox; the guardian
attaches to the child, sets its limits and writes "go". Only then does the child take the cold
cloud jail's steps: chroot into its slot's root, the slot's uid, no capabilities, the seccomp
program; it reseeds and runs the harness. (gVisor ignores CLONE_PARENT, so a guardian cloned here
could not be the daemon's child.)

fd 0 is the control socket (SOCK_SEQPACKET). Messages, daemon -> zygote:
    b"F" + the seccomp program (struct sock_filter[])    once, first
    b"S <uid> <tmp_mb> <cgroupns>" + 6 fds (SCM_RIGHTS)  local spawn: script, stdout, stderr,
                                                         result, go, report
    b"C <uid>" + 7 fds (SCM_RIGHTS)                      cloud spawn: script, stdout, stderr,
                                                         result, go, report, the slot's root
zygote -> daemon:
    b"R"                     ready (after the preload)
    b"P <pid>"               spawned (pid in the daemon's pid namespace)
    b"E <errno> <step>"      spawn failed
"""

import array
import ctypes
import errno
import fcntl
import gc
import importlib
import os
import platform
import random
import signal
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (after the path is set)

CTL = 0
NFDS = 6
CLOUD_NFDS = 7
MAX_FDS = 8
REPORT_FD = 4  # as the cold jail: where the report pipe sits while the last steps run
HIGH_FD = 64

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_PARENT = 0x00008000
CLONE_CHILD_SETTID = 0x01000000
SANDBOX_FLAGS = CLONE_PARENT | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | \
    CLONE_NEWUTS

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_PTRACER = 0x59616d61
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
SIGKILL = 9
# clone(2)'s argument order and the capset number differ per architecture.
SYSCALLS = {"x86_64": dict(clone=56, capset=126, ctid_arg=3),
            "aarch64": dict(clone=220, capset=91, ctid_arg=4)}

# PyDLL: the GIL stays held across the calls, so the clone's child holds it as os.fork's does.
libc = ctypes.PyDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]
libc.pthread_self.restype = ctypes.c_void_p
api = ctypes.pythonapi


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Failed(Exception):
    """A jail step failed: its name and errno go to the daemon."""

    def __init__(self, step, err=None):
        super().__init__(step)
        self.step = step
        self.err = ctypes.get_errno() if err is None else err


def check(step, rc):
    if rc != 0:
        raise Failed(step)


def do(step, fn, *args):
    try:
        return fn(*args)
    except OSError as exc:
        raise Failed(step, exc.errno or errno.EIO) from None


def tid_offset():
    """Where glibc keeps the thread's id in its thread descriptor.

    glibc's fork() has the kernel store the child's id there (CLONE_CHILD_SETTID); a raw clone
    must do the same, or glibc's raise() and abort() in the child signal a stale thread id. The
    field is found by value, once, and must be unique in the descriptor's first 1 KiB."""
    tid = threading_get_native_id()
    base = libc.pthread_self()
    words = (ctypes.c_int * 256).from_address(base)
    hits = [i for i in range(256) if words[i] == tid]
    if len(hits) != 1:
        raise RuntimeError("cannot locate glibc's thread id field (%d matches)" % len(hits))
    return base + 4 * hits[0]


def threading_get_native_id():
    import threading
    return threading.get_native_id()


class Zygote:
    def __init__(self, preload):
        self.filter = None
        self.preload = preload
        arch = SYSCALLS.get(platform.machine())
        if arch is None:
            raise RuntimeError("warm start supports x86_64 and aarch64, not " + platform.machine())
        self.nr = arch
        self.ctid = tid_offset()

    # --- the zygote ---------------------------------------------------------------------------

    def load(self):
        for name in self.preload:
            importlib.import_module(name)
        warm_up()
        # Objects made so far are never collected: the children's collector does not touch
        # (and copy) their pages.
        gc.collect()
        gc.freeze()

    def serve(self, ctl):
        msg, fds = receive(ctl, 1 << 20)
        if msg[:1] != b"F" or (len(msg) - 1) % 8 != 0 or fds:
            raise RuntimeError("expected the seccomp program first")
        self.filter = ctypes.create_string_buffer(msg[1:], len(msg) - 1)
        # Cloud sandboxes are the zygote's children, and what they orphan comes here where the
        # kernel allows (gVisor does not): the kernel reaps them all, once their guardian has
        # seen them end. Every sandbox restores SIGCHLD's default (enter).
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        self.load()
        set_name(b"pyexecd-zygote")
        ctl.send(b"R")
        while True:
            msg, fds = receive(ctl, 256)
            if not msg:
                return  # the daemon closed the socket
            try:
                self.spawn(ctl, msg, fds)
            finally:
                for fd in fds:
                    os.close(fd)

    def spawn(self, ctl, msg, fds):
        words = msg.split()
        step = b"clone"
        if words[:1] == [b"S"] and len(words) == 4 and len(fds) == NFDS:
            uid, tmp_mb, cgroupns = (int(w) for w in words[1:])
            pid, err = self.clone(SANDBOX_FLAGS)
            if pid == 0:
                self.child(fds, uid, tmp_mb, cgroupns)  # never returns
        elif words[:1] == [b"C"] and len(words) == 2 and len(fds) == CLOUD_NFDS:
            daemon = os.getppid()
            # The pid goes to the daemon only once the child lets the guardian trace it: an
            # attach before that is refused (seen under podman + runsc).
            ready_r, ready_w = os.pipe()
            pid, err = fork()
            if pid == 0:
                os.close(ready_r)
                self.cloud_child(fds, int(words[1]), daemon, ready_w)  # never returns
            os.close(ready_w)
            if pid > 0 and os.read(ready_r, 1) != b"t":
                # The child reported its failed step on its report pipe and exited.
                pid, err, step = -1, errno.EPERM, b"let the guardian trace"
            os.close(ready_r)
        else:
            ctl.send(b"E %d bad spawn request" % errno.EINVAL)
            return
        ctl.send(b"P %d" % pid if pid > 0 else b"E %d %s" % (err, step))

    def clone(self, flags):
        """A raw clone (os.fork cannot pass flags): (pid, errno); the child returns (0, 0)."""
        args = [0] * 5
        args[0] = flags | CLONE_CHILD_SETTID | 17  # SIGCHLD
        args[self.nr["ctid_arg"]] = self.ctid
        api.PyOS_BeforeFork()
        pid = libc.syscall(ctypes.c_long(self.nr["clone"]), *(ctypes.c_ulong(a) for a in args))
        if pid == 0:
            api.PyOS_AfterFork_Child()
            return 0, 0
        err = ctypes.get_errno()
        api.PyOS_AfterFork_Parent()
        return pid, err

    # --- the child: the rest of the jail, then the harness ------------------------------------

    def child(self, fds, uid, tmp_mb, cgroupns):
        self.finish(fds[5], lambda: self.contain(fds, uid, tmp_mb, cgroupns))

    def finish(self, report, contain):
        """Runs the jail's own steps (contain, which ends with the fds in place), the last steps
        every jail shares, then the request; a failed step goes to the report pipe."""
        try:
            contain()
            report = REPORT_FD
            self.enter()
        except Failed as exc:
            send_report(report, exc.err, exc.step)
        except BaseException as exc:  # a bug here must not leave a half-jailed process
            send_report(report, errno.EIO, "zygote: %s" % type(exc).__name__)
        else:
            run_request()
        os._exit(127)

    def contain(self, fds, uid, tmp_mb, cgroupns):
        script, out, err, result, go, report = fds
        if do("wait for the supervisor", os.read, go, 1) != b"g":
            raise Failed("wait for the supervisor", errno.EPIPE)
        do("setsid", os.setsid)
        # After the supervisor moved us into our cgroup: the namespace's root is that cgroup.
        if cgroupns:
            check("cgroup namespace", libc.unshare(CLONE_NEWCGROUP))
        # This proc shows the new pid namespace only; it covers the zygote's.
        check("mount /proc", libc.mount(b"proc", b"/proc", b"proc",
                                        MS_NOSUID | MS_NODEV | MS_NOEXEC, None))
        opts = "size=%dm,nr_inodes=16384,mode=0700,uid=%d,gid=%d" % (tmp_mb, uid, uid)
        check("mount tmpfs on /tmp", libc.mount(b"tmpfs", b"/tmp", b"tmpfs",
                                                MS_NOSUID | MS_NODEV, opts.encode()))
        do("hostname", socket.sethostname, "sandbox")
        become(uid)
        # After the uid change, which clears it: the sandbox dies with the daemon.
        check("parent death signal", libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
        self.drop_caps()
        do("set up fds", place_fds, script, out, err, result, report)

    def drop_caps(self):
        # EINVAL: no ambient capabilities here (gVisor), as sandbox_drop_caps allows.
        if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 and \
                ctypes.get_errno() != errno.EINVAL:
            raise Failed("ambient capabilities")
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = (ctypes.c_uint32 * 6)()
        check("drop capabilities", libc.syscall(ctypes.c_long(self.nr["capset"]), header, data))

    def enter(self):
        set_name(b"python3")
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        prog = SockFprog(len(self.filter) // 8, ctypes.addressof(self.filter))
        check("no_new_privs", libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        check("load seccomp", libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                                         ctypes.addressof(prog), 0, 0))
        # What the cold jail's execve does: the daemon takes EOF on the report pipe as "in".
        do("close the report pipe", os.close, REPORT_FD)

    # --- cloud: the sandbox, the zygote's child -------------------------------------------------

    def cloud_child(self, fds, uid, daemon, ready):
        self.finish(fds[5], lambda: self.cloud_contain(fds, uid, daemon, ready))

    def cloud_contain(self, fds, uid, daemon, ready):
        script, out, err, result, go, report, root = fds
        # Its guardian, the daemon's next child, attaches to it: same uid (root), dumpable, and
        # Yama's scope 1 admits the named process's descendants (EINVAL: no Yama here).
        check("let the guardian trace", libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
        if libc.prctl(PR_SET_PTRACER, daemon, 0, 0, 0) != 0 and \
                ctypes.get_errno() != errno.EINVAL:
            raise Failed("let the guardian trace")
        do("tell the zygote", os.write, ready, b"t")
        os.close(ready)
        # Traced and limited from here; EOF: the guardian is gone.
        if do("wait for the guardian", os.read, go, 1) != b"g":
            raise Failed("wait for the guardian", errno.EPIPE)
        # The cold cloud jail's steps (modes/cloud/cloud.c, contain), in its order.
        do("setsid", os.setsid)
        do("chroot into the slot's root", os.fchdir, root)
        do("chroot into the slot's root", os.chroot, ".")
        do("chroot into the slot's root", os.chdir, "/")
        become(uid)
        # As the cold jail's exec leaves it: the guardian reads its /proc as its owner uid.
        check("stay dumpable for the guardian", libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
        self.drop_caps()
        do("set up fds", place_fds, script, out, err, result, report)


def fork():
    try:
        return os.fork(), 0
    except OSError as exc:
        return -1, exc.errno


def receive(ctl, size):
    """One message and the fds that came with it (close-on-exec, should anything exec)."""
    fdsize = array.array("i").itemsize
    msg, anc, _, _ = ctl.recvmsg(size, socket.CMSG_SPACE(MAX_FDS * fdsize),
                                 socket.MSG_CMSG_CLOEXEC)
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fdsize])
    return msg, list(fds)


def become(uid):
    # The bounding set needs CAP_SETPCAP, which the uid change below takes away.
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1:
            check("drop the bounding set", libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
    do("drop to the sandbox uid", os.setgroups, [])
    do("drop to the sandbox uid", os.setresgid, uid, uid, uid)
    do("drop to the sandbox uid", os.setresuid, uid, uid, uid)


def place_fds(script, out, err, result, report):
    # Everything high first, so no dup2 overwrites a source not yet placed.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
            for fd in (script, out, err, result, report)]
    for target, fd in enumerate(high[:4]):
        os.dup2(fd, target, inheritable=target != 3)
    os.dup2(high[4], REPORT_FD, inheritable=False)
    # The control socket, the zygote's copies of the pipes: nothing else stays open.
    os.closerange(REPORT_FD + 1, 2**31 - 1)


def send_report(fd, err, step):
    # struct report in modes/common/sandbox.c: int err; char step[60].
    try:
        os.write(fd, struct.pack("i60s", err, step.encode()[:59]))
    except OSError:
        pass


def set_name(name):
    libc.prctl(PR_SET_NAME, ctypes.cast(ctypes.c_char_p(name), ctypes.c_void_p).value, 0, 0, 0)


def reseed():
    """What would repeat between requests forked from one zygote: the random generators."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def warm_up():
    """Touches the common numpy and pandas paths once in the zygote, so their lazy state
    (caches, compiled dispatch tables) is made before any sandbox is cloned."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        a = numpy.arange(16.0).reshape(4, 4)
        float((a @ a).sum())
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        frame = pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        len(frame)
        frame.describe()
        frame.groupby("b").sum()
    harness.json.dumps({"a": [1, 2.5, None]})


def run_request():
    # No second warm-up here: in a child it costs ~30 ms of copy-on-write faults to save ~2 ms
    # of the first pandas call (measured), and every sandbox would pay it.
    reseed()
    harness.HARNESS_PID = os.getpid()
    try:
        harness.run()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    os._exit(0)


def main():
    ctl = socket.socket(fileno=CTL)
    zygote = Zygote([name for name in sys.argv[1].split(",") if name] if len(sys.argv) > 1
                    else [])
    zygote.serve(ctl)


if __name__ == "__main__":
    main()
