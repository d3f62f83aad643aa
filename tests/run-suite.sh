#!/usr/bin/env bash
# Runs the pyexecd black-box suites against one daemon binary.
#
#   tests/run-suite.sh BINARY [extra daemon args...]
#
# Starts BINARY (as root) on a free 127.0.0.1 port with the rootfs and tight test limits, runs
# tests/api_test.py and tests/hostile_test.py against it, stops it with SIGTERM and checks that it
# exits 0 and leaves nothing behind (sandbox processes, mounts, cgroups, scratch files). Short-lived
# extra instances cover ServerBusy (--max-sandboxes 1 --queue-length 0), the bounded queue wait
# (--queue-length 1 --queue-wait-ms 300) and draining on SIGTERM.
#
# The last line printed is `N passed, N failed` (all suites together); the exit status is non-zero
# when anything failed. Usable from any directory.
#
# Environment (all optional):
#   PYEXECD_ROOTFS                 rootfs (default: build/rootfs of this repository)
#   PYEXECD_WRAPPER                command put before BINARY, e.g. "valgrind --error-exitcode=99"
#   PYEXECD_TEST_WALL_MS=5000      --wall-ms          PYEXECD_TEST_CPU_S=3          --cpu-s
#   PYEXECD_TEST_REQUEST_MS=3000   --request-ms       PYEXECD_TEST_MEMORY_MB=256    --memory-mb
#   PYEXECD_TEST_MAX_SANDBOXES=2   --max-sandboxes    PYEXECD_TEST_QUEUE_LENGTH=32  --queue-length
#   PYEXECD_TEST_STDOUT_BYTES, _STDERR_BYTES, _RESULT_BYTES, _SCRIPT_BYTES (65536 each)
#   PYEXECD_TEST_DRAIN_MS=5000     --drain-ms         PYEXECD_TEST_SANDBOX_UID=200000 --sandbox-uid
#   PYEXECD_TEST_SLACK_S=5         seconds a limit may be overrun before a test calls it late
#   PYEXECD_TEST_STOP_S            bound for the exit after SIGTERM (default drain + 15 s)
#   PYEXECD_TEST_ONLY / PYEXECD_TEST_SKIP   passed to the suites as --only / --skip
# Extra daemon args come last, so they win; the limits the suites assume follow them.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3

if [ $# -lt 1 ]; then
    echo "usage: $0 BINARY [extra daemon args...]" >&2
    echo "0 passed, 1 failed"
    exit 2
fi
BINARY=$1
shift
EXTRA=("$@")
case $BINARY in
/*) ;;
*) if [ -e "$BINARY" ]; then BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY"); else BINARY=$ROOT/$BINARY; fi ;;
esac
ROOTFS=${PYEXECD_ROOTFS:-$ROOT/build/rootfs}
case $ROOTFS in /*) ;; *) ROOTFS=$ROOT/$ROOTFS ;; esac

WALL_MS=${PYEXECD_TEST_WALL_MS:-5000}
CPU_S=${PYEXECD_TEST_CPU_S:-3}
REQUEST_MS=${PYEXECD_TEST_REQUEST_MS:-3000}
MEMORY_MB=${PYEXECD_TEST_MEMORY_MB:-256}
MAX_SANDBOXES=${PYEXECD_TEST_MAX_SANDBOXES:-2}
QUEUE_LENGTH=${PYEXECD_TEST_QUEUE_LENGTH:-32}
STDOUT_BYTES=${PYEXECD_TEST_STDOUT_BYTES:-65536}
STDERR_BYTES=${PYEXECD_TEST_STDERR_BYTES:-65536}
RESULT_BYTES=${PYEXECD_TEST_RESULT_BYTES:-65536}
SCRIPT_BYTES=${PYEXECD_TEST_SCRIPT_BYTES:-65536}
DRAIN_MS=${PYEXECD_TEST_DRAIN_MS:-5000}
SANDBOX_UID=${PYEXECD_TEST_SANDBOX_UID:-200000}
SLACK_S=${PYEXECD_TEST_SLACK_S:-5}
HEALTH_S=60
read -r -a WRAPPER <<<"${PYEXECD_WRAPPER:-}"

# Extra args win over the defaults above; the suites must know the values that are in force.
extra_value() { # extra_value --flag CURRENT -> prints the last value EXTRA gives, else CURRENT
    local flag=$1 value=$2 i
    for ((i = 0; i < ${#EXTRA[@]}; i++)); do
        case ${EXTRA[i]} in
        "$flag"=*) value=${EXTRA[i]#*=} ;;
        "$flag") if [ $((i + 1)) -lt ${#EXTRA[@]} ]; then value=${EXTRA[i + 1]}; fi ;;
        esac
    done
    printf '%s\n' "$value"
}
WALL_MS=$(extra_value --wall-ms "$WALL_MS")
CPU_S=$(extra_value --cpu-s "$CPU_S")
REQUEST_MS=$(extra_value --request-ms "$REQUEST_MS")
MAX_SANDBOXES=$(extra_value --max-sandboxes "$MAX_SANDBOXES")
QUEUE_LENGTH=$(extra_value --queue-length "$QUEUE_LENGTH")
STDOUT_BYTES=$(extra_value --stdout-bytes "$STDOUT_BYTES")
STDERR_BYTES=$(extra_value --stderr-bytes "$STDERR_BYTES")
RESULT_BYTES=$(extra_value --result-bytes "$RESULT_BYTES")
SCRIPT_BYTES=$(extra_value --script-bytes "$SCRIPT_BYTES")
DRAIN_MS=$(extra_value --drain-ms "$DRAIN_MS")
SANDBOX_UID=$(extra_value --sandbox-uid "$SANDBOX_UID")
STOP_S=${PYEXECD_TEST_STOP_S:-$((DRAIN_MS / 1000 + 15))}

WORK=$(mktemp -d /tmp/pyexecd-suite.XXXXXX)
SCRATCH_BASE=$(mktemp -d /var/tmp/pyexecd-suite-scratch.XXXXXX)
SECRET=pyexecd-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export PYEXECD_TEST_SECRET=$SECRET

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

DPID=
DPORT=
DLOG=
DNAME=

cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

log_tail() {
    [ -n "$DLOG" ] && [ -f "$DLOG" ] || return 0
    echo "---- last 40 lines of the $DNAME daemon's log ($DLOG) ----"
    tail -n 40 "$DLOG"
    echo "---- end of log ----"
}

# start_daemon NAME ARGS... : starts BINARY with the common test settings, then ARGS (which win).
start_daemon() {
    DNAME=$1
    shift
    DPORT=$(free_port)
    DLOG=$WORK/$DNAME.log
    local scratch=()
    if "$BINARY" --help 2>&1 | grep -q -- --scratch; then
        mkdir -p "$SCRATCH_BASE/$DNAME"
        scratch=(--scratch "$SCRATCH_BASE/$DNAME")
    fi
    (
        cd "$ROOT" || exit 1
        exec env PYEXECD_TEST_SECRET="$SECRET" "${WRAPPER[@]}" "$BINARY" \
            --bind 127.0.0.1 --port "$DPORT" --rootfs "$ROOTFS" "${scratch[@]}" \
            --wall-ms "$WALL_MS" --cpu-s "$CPU_S" --request-ms "$REQUEST_MS" --memory-mb "$MEMORY_MB" \
            --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH" \
            --stdout-bytes "$STDOUT_BYTES" --stderr-bytes "$STDERR_BYTES" \
            --result-bytes "$RESULT_BYTES" --script-bytes "$SCRIPT_BYTES" \
            --drain-ms "$DRAIN_MS" --sandbox-uid "$SANDBOX_UID" "${EXTRA[@]}" "$@"
    ) >"$DLOG" 2>&1 &
    DPID=$!
    local health
    if health=$("$PY" - "$DPORT" "$DPID" "$HEALTH_S" <<'EOF'
import http.client, sys, time
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except FileNotFoundError:
        sys.exit(2)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/health")
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status == 200:
            print(body.decode("utf-8", "replace"))
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
    ); then
        pass "${DNAME}_daemon_starts_and_answers_health"
        echo "# $DNAME daemon: pid $DPID, port $DPORT, health $health"
        return 0
    fi
    fail "${DNAME}_daemon_starts_and_answers_health" "no 200 from GET /health within ${HEALTH_S}s"
    log_tail
    cleanup
    DPID=
    return 1
}

# stop_daemon: SIGTERM (unless already sent), the exit status must be 0 within STOP_S.
stop_daemon() { # stop_daemon [signalled]: signalled = a test already sent SIGTERM
    local name=$DNAME rc state t0 signalled=${1:-}
    if ! kill -0 "$DPID" 2>/dev/null; then
        wait "$DPID"
        rc=$?
        fail "${name}_daemon_exits_0_on_sigterm" "the daemon was already gone (exit status $rc)"
        DPID=
        return
    fi
    state=$(awk '{print $3}' "/proc/$DPID/stat" 2>/dev/null)
    [ "$state" = Z ] || [ -n "$signalled" ] || kill -TERM "$DPID"
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$STOP_S" ]; do
        state=$(awk '{print $3}' "/proc/$DPID/stat" 2>/dev/null)
        [ -z "$state" ] || [ "$state" = Z ] && break
        sleep 0.1
    done
    state=$(awk '{print $3}' "/proc/$DPID/stat" 2>/dev/null)
    if [ -n "$state" ] && [ "$state" != Z ]; then
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
        fail "${name}_daemon_exits_0_on_sigterm" "still running ${STOP_S}s after SIGTERM (killed)"
    else
        wait "$DPID"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            pass "${name}_daemon_exits_0_on_sigterm"
        else
            fail "${name}_daemon_exits_0_on_sigterm" "exit status $rc"
        fi
    fi
    DPID=
    if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$DLOG"; then
        fail "${name}_daemon_log_has_no_sanitizer_or_valgrind_errors" "$(grep -Em3 'ERROR: |runtime error:|ERROR SUMMARY|definitely lost' "$DLOG" | tr '\n' ' ')"
    else
        pass "${name}_daemon_log_has_no_sanitizer_or_valgrind_errors"
    fi
}

# run_suite NAME SCRIPT ARGS...: runs one python suite and adds its totals.
run_suite() {
    local name=$1 script=$2 out last p f
    shift 2
    out=$WORK/$name.out
    local only=() skip=()
    [ -n "${PYEXECD_TEST_ONLY:-}" ] && only=(--only "$PYEXECD_TEST_ONLY")
    [ -n "${PYEXECD_TEST_SKIP:-}" ] && skip=(--skip "$PYEXECD_TEST_SKIP")
    echo "# $name"
    timeout -k 10 900 "$PY" "$HERE/$script" --url "http://127.0.0.1:$DPORT" \
        --wall-ms "$WALL_MS" --cpu-s "$CPU_S" --request-ms "$REQUEST_MS" \
        --stdout-bytes "$STDOUT_BYTES" --stderr-bytes "$STDERR_BYTES" \
        --result-bytes "$RESULT_BYTES" --script-bytes "$SCRIPT_BYTES" \
        --sandbox-uid "$SANDBOX_UID" --slack-s "$SLACK_S" "${only[@]}" "${skip[@]}" "$@" 2>&1 | tee "$out"
    last=$(tail -n 1 "$out")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
    else
        fail "$name" "the suite did not finish (last line: $last)"
    fi
}

# check_leftovers NAME: after a daemon exited, nothing of its sandboxes may remain.
check_leftovers() {
    local name=$1 procs mounts cgroups files t0
    t0=$SECONDS
    while :; do
        procs=$("$PY" - "$SANDBOX_UID" <<'EOF'
import os, sys
first = int(sys.argv[1])
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        status = open("/proc/%s/status" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode("latin-1")
    except OSError:
        continue
    fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
    uids = [int(u) for u in fields.get("Uid", "").split()]
    if any(first <= u <= first + 64 for u in uids):
        print("pid %s uid %s state %s: %s" % (pid, uids[0], fields.get("State", "?").strip(), cmd[:80]))
EOF
        )
        [ -z "$procs" ] || [ $((SECONDS - t0)) -ge 3 ] && break
        sleep 0.2
    done
    if [ -z "$procs" ]; then
        pass "${name}_leaves_no_sandbox_processes"
    else
        fail "${name}_leaves_no_sandbox_processes" "$(echo "$procs" | head -5 | tr '\n' ';')"
    fi

    mounts=$(awk -v a="$ROOTFS" -v b="$SCRATCH_BASE" \
        'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo)
    if [ -z "$mounts" ]; then
        pass "${name}_leaves_no_mounts"
    else
        fail "${name}_leaves_no_mounts" "$(echo "$mounts" | head -5 | tr '\n' ' ')"
    fi

    local dirs=() own d
    for d in /sys/fs/cgroup/pyexecd /sys/fs/cgroup/*/pyexecd; do
        [ -d "$d" ] && dirs+=("$d")
    done
    own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    if [ -n "$own" ] && [ -d "/sys/fs/cgroup$own/pyexecd" ]; then
        dirs+=("/sys/fs/cgroup$own/pyexecd")
    fi
    cgroups=
    [ ${#dirs[@]} -gt 0 ] && cgroups=$(find "${dirs[@]}" -mindepth 1 -maxdepth 3 -type d 2>/dev/null)
    if [ -z "$cgroups" ]; then
        pass "${name}_leaves_no_sandbox_cgroups"
    else
        fail "${name}_leaves_no_sandbox_cgroups" "$(echo "$cgroups" | head -5 | tr '\n' ' ')"
    fi

    files=$(find "$SCRATCH_BASE" -mindepth 1 ! -type d 2>/dev/null | head -5)
    if [ -z "$files" ]; then
        pass "${name}_leaves_no_scratch_files"
    else
        fail "${name}_leaves_no_scratch_files" "$(echo "$files" | tr '\n' ' ')"
    fi
}

# phase NAME DAEMON-ARGS -- SUITE-CALLS: one daemon instance and the suites run against it.
echo "# pyexecd suites: binary $BINARY, rootfs $ROOTFS, wall ${WALL_MS}ms, cpu ${CPU_S}s," \
    "max-sandboxes $MAX_SANDBOXES, sandbox uid $SANDBOX_UID${PYEXECD_WRAPPER:+, wrapper $PYEXECD_WRAPPER}"
if [ ! -x "$BINARY" ]; then
    fail "binary_exists" "$BINARY is not an executable file"
elif [ ! -d "$ROOTFS" ]; then
    fail "rootfs_exists" "$ROOTFS is not a directory (build it first)"
else
    # 1. The main instance: the API and hostile suites.
    before=$FAILED
    if start_daemon main; then
        run_suite api_test api_test.py --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH"
        run_suite hostile_test hostile_test.py --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH"
        stop_daemon
        [ "$FAILED" -gt "$before" ] && log_tail
        check_leftovers main
    fi

    # 2. No queue: a request beyond the sandboxes gets 503 at once.
    before=$FAILED
    if start_daemon busy --max-sandboxes 1 --queue-length 0; then
        run_suite api_test_busy api_test.py --group busy --max-sandboxes 1 --queue-length 0
        stop_daemon
        [ "$FAILED" -gt "$before" ] && log_tail
        check_leftovers busy
    fi

    # 3. A queue of one with a short wait, then SIGTERM with a request still running.
    before=$FAILED
    if start_daemon queue --max-sandboxes 1 --queue-length 1 --queue-wait-ms 300; then
        run_suite api_test_queue api_test.py --group queue,drain --max-sandboxes 1 --queue-length 1 \
            --queue-wait-ms 300 --daemon-pid "$DPID"
        # The drain test sends SIGTERM itself: a second one would not test draining.
        if grep -Eq '^(PASS|FAIL) sigterm_' "$WORK/api_test_queue.out"; then stop_daemon signalled; else stop_daemon; fi
        [ "$FAILED" -gt "$before" ] && log_tail
        check_leftovers queue
    fi
fi

rm -rf "$SCRATCH_BASE"
[ "$FAILED" -eq 0 ] && rm -rf "$WORK" || echo "# logs kept in $WORK"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
