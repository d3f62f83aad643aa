#!/bin/bash
# Checks a rootfs built by rootfs/build.sh: rootfs/check.sh OUT
# Needs root (chroot). Never writes into OUT: Python runs with -B.
# Last line: "N passed, N failed"; exits non-zero if anything failed.
# shellcheck disable=SC2016 # the sh -c bodies are single-quoted on purpose: they get $1 as an argument

set -uo pipefail
export LC_ALL=C

[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "check.sh: must run as root (chroot)" >&2; exit 2; }
root=$(realpath -m -- "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

passed=0 failed=0
# check NAME COMMAND...: the command's output is shown only when it fails.
check() {
    local name=$1 output
    shift
    if output=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        [ -z "$output" ] || printf '%s\n' "$output" | head -20 | sed 's/^/     /'
    fi
}
# none NAME COMMAND...: passes when the command succeeds and prints nothing (e.g. a find).
none() {
    local name=$1
    shift
    check "$name" sh -c 'out=$("$@") && [ -z "$out" ] || { printf "%s\n" "$out"; exit 1; }' none "$@"
}
py() { chroot "$root" /usr/bin/python3 -I -B "$@" </dev/null; }

check "OUT is a directory with /usr/bin/python3" test -d "$root" -a -x "$root/usr/bin/python3"
[ -x "$root/usr/bin/python3" ] || { echo "0 passed, 1 failed"; exit 1; }

# Ownership and modes: the cloud jail has no read-only mount, only uids and permissions.
none "no setuid/setgid file" find "$root" -perm /6000 ! -type l
none "everything owned by root:root" find "$root" \( ! -user 0 -o ! -group 0 \)
none "nothing writable by group/other outside /tmp" \
    find "$root" -path "$root/tmp" -prune -o -perm /022 ! -type l -print
check "/tmp is a directory with mode 1777" test "$(stat -c %F:%a "$root/tmp")" = directory:1777
check "/proc and /dev are directories with mode 0755" \
    test "$(stat -c %F:%a "$root/proc" "$root/dev" | paste -sd' ')" = "directory:755 directory:755"
for f in null zero urandom; do
    check "/dev/$f is an empty regular file" sh -c 'test -f "$1" && ! test -L "$1" && ! test -s "$1"' - "$root/dev/$f"
done
check "/dev/shm is a symlink to the request's /tmp" test "$(readlink "$root/dev/shm")" = ../tmp

for d in usr/share/doc usr/share/man usr/share/info usr/share/locale usr/share/lintian \
    var/lib/apt var/lib/dpkg var/cache/apt usr/lib/python3.11/test; do
    check "no /$d" test ! -e "$root/$d"
done

check "/etc/passwd: root, sandbox 1000, sandbox0..63 = 100000..100063, nobody" sh -c '
    p=$1/etc/passwd
    grep -qx "root:x:0:0:[^:]*:[^:]*:[^:]*" "$p" &&
    grep -qx "sandbox:x:1000:1000:[^:]*:/tmp:/usr/sbin/nologin" "$p" &&
    grep -qx "nobody:x:65534:65534:[^:]*:[^:]*:[^:]*" "$p" &&
    for n in $(seq 0 63); do
        grep -qx "sandbox$n:x:$((100000 + n)):$((100000 + n)):[^:]*:/tmp:/usr/sbin/nologin" "$p" || exit 1
    done' - "$root"
check "/etc/group: root, sandbox, sandbox0..63" sh -c '
    g=$1/etc/group
    grep -q "^root:x:0:" "$g" && grep -q "^sandbox:x:1000:" "$g" &&
    for n in $(seq 0 63); do grep -q "^sandbox$n:x:$((100000 + n)):" "$g" || exit 1; done' - "$root"
check "/etc/hostname is sandbox" test "$(cat "$root/etc/hostname")" = sandbox
check "/etc/nsswitch.conf: passwd and group from files" sh -c '
    grep -qE "^passwd:[[:space:]]+files$" "$1" && grep -qE "^group:[[:space:]]+files$" "$1"' - "$root/etc/nsswitch.conf"

check "the harness is installed, identical to rootfs/harness.py" \
    cmp "$here/harness.py" "$root/opt/pyexecd/harness.py"
check "the harness runs a script and writes its result frame on fd 3" sh -c '
    frame=$(printf "def main():\n    return {\"sum\": 1 + 2}\n" |
        chroot "$1" /usr/bin/python3 -I -B /opt/pyexecd/harness.py 3>&1 >/dev/null)
    [ "$(printf %s "$frame" | tr -d " ")" = "R{\"sum\":3}" ] || { echo "frame: $frame"; exit 1; }' - "$root"
for f in usr/lib/python3/dist-packages/pandas/__init__.py usr/lib/python3/dist-packages/numpy/__init__.py \
    opt/pyexecd/harness.py; do
    check "a .pyc exists for /$f" \
        sh -c 'ls "$1"/__pycache__/"$2".cpython-*.pyc' - "$root/$(dirname "$f")" "$(basename "$f" .py)"
done

check "libblas.so.3 and liblapack.so.3 are in the ld.so cache and exist" sh -c '
    for lib in libblas.so.3 liblapack.so.3; do
        path=$(ldconfig -p -C "$1/etc/ld.so.cache" | sed -n "s/^[[:space:]]*$lib (.*) => //p" | head -1)
        [ -n "$path" ] && [ -e "$1$path" ] || { echo "$lib: not resolved (${path:-not in the cache})"; exit 1; }
    done' - "$root"
check "libblas.so.3 and liblapack.so.3 load by name (dlopen in the rootfs)" py -c '
import ctypes
for name in ("libblas.so.3", "liblapack.so.3"):
    ctypes.CDLL(name)'

check "numpy matmul and a pandas DataFrame op" py -c '
import os, numpy, pandas
a = numpy.arange(6.0).reshape(2, 3)
assert (a @ a.T).tolist() == [[5.0, 14.0], [14.0, 50.0]], a @ a.T
assert numpy.allclose(numpy.linalg.inv(numpy.eye(3) * 2), numpy.eye(3) / 2)
df = pandas.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
assert df.groupby("k")["v"].sum().to_dict() == {"a": 4, "b": 2}
assert df.describe().loc["mean", "v"] == 2.0
assert pandas.Timestamp("2024-01-01", tz="Europe/Paris").utcoffset().total_seconds() == 3600
assert os.uname().nodename is not None'

check "numpy and pandas import as uid 1000 (sandbox) and 100000 (sandbox0)" sh -c '
    for user in 1000:1000 100000:100000; do
        chroot --userspec=$user "$1" /usr/bin/python3 -I -B -c "import numpy, pandas" </dev/null || exit 1
    done' - "$root"

# A module imported without its .pyc is compiled on every start (the tree is read-only): pandas
# takes ~3x longer. -B keeps Python from writing the missing ones here.
check "every module imported by numpy, pandas and the harness has its .pyc" py -c '
import importlib.util, os, sys
sys.path.insert(0, "/opt/pyexecd")
import numpy, pandas, harness
pandas.DataFrame({"a": [1.0, 2.0]}).describe()
missing = []
for name, mod in sorted(sys.modules.items()):
    spec = getattr(mod, "__spec__", None)
    if spec is None or not spec.cached or not (spec.origin or "").endswith(".py"):
        continue
    if not os.path.exists(spec.cached):
        missing.append(spec.origin)
print("\n".join(missing))
sys.exit(1 if missing else 0)'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
