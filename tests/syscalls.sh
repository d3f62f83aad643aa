#!/usr/bin/env bash
# The system calls the corpus (tests/corpus/*.py) makes, and those the cloud policy does not name.
#
#   tests/syscalls.sh [CORPUS_FILE...]
#
# Runs each corpus file through the harness as the cold cloud jail does (chroot into the rootfs,
# a sandbox uid, the jail's environment) under `strace -f`, outside any jail: only for our own
# corpus, never for untrusted scripts. A private mount namespace gives the run its own /tmp and
# /dev (the shared rootfs is not touched). Prints each file's result, the union of the system
# calls made from the harness's execve on (with how many files made each), and the calls that
# modes/cloud/policy.c does not mention at all (allowed, filtered or answered). Needs root, strace
# and util-linux's unshare. Exit status 1 when a call is missing from the policy.
#
# Environment: PYEXECD_ROOTFS (default build/rootfs), PYEXECD_TRACE_UID (default 254900),
# PYEXECD_TRACE_DIR (keep the traces there, to look at arguments).
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROOTFS=$(cd "${PYEXECD_ROOTFS:-$ROOT/build/rootfs}" && pwd -P)
TRACE_UID=${PYEXECD_TRACE_UID:-254900}
if [ -n "${PYEXECD_TRACE_DIR:-}" ]; then
    WORK=$PYEXECD_TRACE_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/pyexecd-syscalls.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
[ $# -gt 0 ] || set -- "$HERE"/corpus/*.py

# One corpus file in the private namespace: fresh /tmp and /dev, then the harness under strace.
run_one() { # run_one SCRIPT TRACE RESULT
    unshare --mount --propagation private bash -euc '
        rootfs=$1 uid=$2 script=$3 trace=$4 result=$5
        mount -t tmpfs -o size=64m,mode=1777 tmpfs "$rootfs/tmp"
        mount -t tmpfs -o size=1m,mode=755 tmpfs "$rootfs/dev"
        for d in null zero urandom; do
            touch "$rootfs/dev/$d"
            mount --bind "/dev/$d" "$rootfs/dev/$d"
        done
        chown "$uid:$uid" "$rootfs/tmp"
        cd /
        strace -f -qq -o "$trace" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp \
            TMPDIR=/tmp LANG=C.UTF-8 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
            MALLOC_ARENA_MAX=2 /usr/sbin/chroot --userspec="$uid:$uid" "$rootfs" \
            /usr/bin/python3 -I -B -u /opt/pyexecd/harness.py <"$script" 3>"$result" \
            >/dev/null
    ' - "$ROOTFS" "$TRACE_UID" "$1" "$2" "$3"
}

for f in "$@"; do
    f=$(realpath "$f")
    name=$(basename "$f" .py)
    run_one "$f" "$WORK/$name.trace" "$WORK/$name.result" 2>"$WORK/$name.err" || true
    echo "# $name: $(head -c 300 "$WORK/$name.result") $(tail -c 300 "$WORK/$name.err")"
done

# From the execve of python3 on (chroot's own calls before it are not the sandbox's).
for t in "$WORK"/*.trace; do
    sed -n '/execve("\/usr\/bin\/python3"/,$p' "$t" |
        sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' | sort -u
done | sort | uniq -c | sort -k2 >"$WORK/union"
echo "# system calls made ($(wc -l <"$WORK/union")), with the number of corpus files making each:"
awk '{ printf "%s(%s) ", $2, $1 } END { print "" }' "$WORK/union" | fold -s -w 100

# Every syscall name the policy mentions: list entries ("name") and rules (SCMP_SYS(name)).
grep -oE '"[a-z0-9_]+"|SCMP_SYS\([a-z0-9_]+\)' "$ROOT/modes/cloud/policy.c" |
    sed -E 's/^"(.*)"$/\1/; s/^SCMP_SYS\((.*)\)$/\1/' | sort -u >"$WORK/policy"
missing=$(awk '{ print $2 }' "$WORK/union" | sort -u | comm -23 - "$WORK/policy")
if [ -n "$missing" ]; then
    echo "# used but not in modes/cloud/policy.c:" $missing
    exit 1
fi
echo "# every call used is in modes/cloud/policy.c"
