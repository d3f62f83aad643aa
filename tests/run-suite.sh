#!/usr/bin/env bash
# Runs the pyexecd black-box suites against one daemon binary.
#
#   tests/run-suite.sh BINARY [extra daemon args...]
#
# Starts BINARY (as root) on a free 127.0.0.1 port with the rootfs and tight test limits, runs
# tests/api_test.py, tests/hostile_test.py, tests/isolation_test.py, tests/corpus_test.py and
# tests/http_test.py against it (tests/load_test.py against an instance of its own under
# prlimit --nofile=256:256), stops it with
# SIGTERM and checks that it exits 0 and leaves nothing behind (sandbox processes, mounts, cgroups,
# scratch files). Short-lived extra instances cover ServerBusy (--max-sandboxes 1 --queue-length 0),
# the bounded queue wait (--queue-length 1 --queue-wait-ms 300) and draining on SIGTERM.
#
# The last line printed is `N passed, N failed` (all suites together); the exit status is non-zero
# when anything failed. Usable from any directory.
#
# Environment (all optional):
#   PYEXECD_ROOTFS                 rootfs (default: build/rootfs of this repository)
#   PYEXECD_WRAPPER                command put before BINARY, e.g. "valgrind --error-exitcode=99"
#   PYEXECD_TEST_WALL_MS=5000      --wall-ms          PYEXECD_TEST_CPU_S=3          --cpu-s
#   PYEXECD_TEST_REQUEST_MS=3000   --request-ms       PYEXECD_TEST_MEMORY_MB=256    --memory-mb
#   PYEXECD_TEST_IDLE_MS=4000      --idle-ms (passed only to a binary that has it)
#   PYEXECD_TEST_MAX_SANDBOXES=2   --max-sandboxes    PYEXECD_TEST_QUEUE_LENGTH=32  --queue-length
#   PYEXECD_TEST_STDOUT_BYTES, _STDERR_BYTES, _RESULT_BYTES, _SCRIPT_BYTES (65536 each)
#   PYEXECD_TEST_QUEUE_WAIT_MS=300 --queue-wait-ms of the queue instance
#   PYEXECD_TEST_DRAIN_MS=5000     --drain-ms         PYEXECD_TEST_SANDBOX_UID (random 200000+) --sandbox-uid
#   PYEXECD_TEST_SLACK_S=5         seconds a limit may be overrun before a test calls it late
#   PYEXECD_TEST_STOP_S            bound for the exit after SIGTERM (default drain + 15 s)
#   PYEXECD_TEST_ONLY / PYEXECD_TEST_SKIP   passed to the suites as --only / --skip
#   PYEXECD_TEST_SUITES="api hostile isolation corpus http load"   which suites run (load: its
#                                  own instances, under a low open-file limit)
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
IDLE_MS=${PYEXECD_TEST_IDLE_MS:-4000}
MEMORY_MB=${PYEXECD_TEST_MEMORY_MB:-256}
MAX_SANDBOXES=${PYEXECD_TEST_MAX_SANDBOXES:-2}
QUEUE_LENGTH=${PYEXECD_TEST_QUEUE_LENGTH:-32}
STDOUT_BYTES=${PYEXECD_TEST_STDOUT_BYTES:-65536}
STDERR_BYTES=${PYEXECD_TEST_STDERR_BYTES:-65536}
RESULT_BYTES=${PYEXECD_TEST_RESULT_BYTES:-65536}
SCRIPT_BYTES=${PYEXECD_TEST_SCRIPT_BYTES:-65536}
DRAIN_MS=${PYEXECD_TEST_DRAIN_MS:-5000}
QUEUE_WAIT_MS=${PYEXECD_TEST_QUEUE_WAIT_MS:-300}
# A random uid range per run, so that runs on one host do not see each other's sandboxes.
SANDBOX_UID=${PYEXECD_TEST_SANDBOX_UID:-$((200000 + 1000 * (RANDOM % 500)))}
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
IDLE_MS=$(extra_value --idle-ms "$IDLE_MS")
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

# Sandbox-uid processes from before this run (e.g. zombies a crashed daemon left to an init that
# does not reap) are not this run's leftovers.
PREEXISTING=$("$PY" - "$SANDBOX_UID" <<'EOF'
import os, sys
first = int(sys.argv[1])
for pid in os.listdir("/proc"):
    try:
        uids = [int(u) for l in open("/proc/%s/status" % pid) if l.startswith("Uid:") for u in l.split()[1:]]
    except (OSError, ValueError):
        continue
    if any(first <= u <= first + 64 or first + 100 <= u <= first + 164 for u in uids):
        print(pid)
EOF
)
if [ -n "$PREEXISTING" ]; then
    echo "# note: processes with sandbox uids existed before this run (ignored): $(echo $PREEXISTING)"
fi

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

declare -A PIDS=() PORTS=() LOGS=()
PREFIX=() # a command start_daemon puts before the binary (the load suite's prlimit)
OUR_PIDS=

cleanup() {
    local name pid
    for name in "${!PIDS[@]}"; do
        pid=${PIDS[$name]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$SCRATCH_BASE"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

log_tail() { # log_tail NAME
    local log=${LOGS[$1]:-}
    [ -n "$log" ] && [ -f "$log" ] || return 0
    echo "---- last 40 lines of the $1 daemon's log ($log) ----"
    tail -n 40 "$log"
    echo "---- end of log ----"
}

state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# start_daemon NAME ARGS... : starts BINARY with the common test settings, then ARGS (which win).
start_daemon() {
    local name=$1 port log pid health
    shift
    port=$(free_port)
    log=$WORK/$name.log
    local scratch=() idle=()
    if "$BINARY" --help 2>&1 | grep -q -- --scratch; then
        mkdir -p "$SCRATCH_BASE/$name"
        scratch=(--scratch "$SCRATCH_BASE/$name")
    fi
    # (a build from before the HTTP deadlines has no --idle-ms: its suites then show it)
    if "$BINARY" --help 2>&1 | grep -q -- --idle-ms; then
        idle=(--idle-ms "$IDLE_MS")
    fi
    (
        cd "$ROOT" || exit 1
        exec env PYEXECD_TEST_SECRET="$SECRET" "${PREFIX[@]}" "${WRAPPER[@]}" "$BINARY" \
            --bind 127.0.0.1 --port "$port" --rootfs "$ROOTFS" "${scratch[@]}" "${idle[@]}" \
            --wall-ms "$WALL_MS" --cpu-s "$CPU_S" --request-ms "$REQUEST_MS" --memory-mb "$MEMORY_MB" \
            --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH" \
            --stdout-bytes "$STDOUT_BYTES" --stderr-bytes "$STDERR_BYTES" \
            --result-bytes "$RESULT_BYTES" --script-bytes "$SCRIPT_BYTES" \
            --drain-ms "$DRAIN_MS" --sandbox-uid "$SANDBOX_UID" "${EXTRA[@]}" "$@"
    ) >"$log" 2>&1 &
    pid=$!
    OUR_PIDS+=" $pid"
    PIDS[$name]=$pid
    PORTS[$name]=$port
    LOGS[$name]=$log
    if health=$("$PY" - "$port" "$pid" "$HEALTH_S" <<'EOF'
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
        pass "${name}_daemon_starts_and_answers_health"
        echo "# $name daemon: pid $pid, port $port, health $health"
        return 0
    fi
    fail "${name}_daemon_starts_and_answers_health" "no 200 from GET /health within ${HEALTH_S}s"
    log_tail "$name"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PIDS[$name]"
    return 1
}

# stop_daemon NAME [signalled]: SIGTERM (unless a test already sent it: "signalled"); the exit
# status must be 0 within STOP_S.
stop_daemon() {
    local name=$1 signalled=${2:-} pid=${PIDS[$1]} rc state t0
    unset "PIDS[$name]"
    state=$(state_of "$pid")
    # (bash may already have reaped an exited daemon: then its /proc entry is gone)
    if [ -z "$signalled" ] && { [ -z "$state" ] || [ "$state" = Z ]; }; then
        wait "$pid"
        rc=$?
        fail "${name}_daemon_exits_0_on_sigterm" "the daemon was gone before SIGTERM (exit status $rc)"
        return
    fi
    [ -n "$signalled" ] || kill -TERM "$pid"
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$STOP_S" ]; do
        state=$(state_of "$pid")
        { [ -z "$state" ] || [ "$state" = Z ]; } && break
        sleep 0.1
    done
    state=$(state_of "$pid")
    if [ -n "$state" ] && [ "$state" != Z ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        fail "${name}_daemon_exits_0_on_sigterm" "still running ${STOP_S}s after SIGTERM (killed)"
    else
        wait "$pid"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            pass "${name}_daemon_exits_0_on_sigterm"
        else
            fail "${name}_daemon_exits_0_on_sigterm" "exit status $rc"
        fi
    fi
    local log=${LOGS[$name]}
    if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$log"; then
        fail "${name}_daemon_log_has_no_sanitizer_or_valgrind_errors" \
            "$(grep -Em3 'ERROR: |runtime error:|ERROR SUMMARY|definitely lost' "$log" | tr '\n' ' ')"
    else
        pass "${name}_daemon_log_has_no_sanitizer_or_valgrind_errors"
    fi
}

# still_serves NAME TESTNAME: the daemon still runs a script.
# still_serves DAEMON TEST [N]: N requests in a row (default 1) all succeed.
still_serves() {
    local out
    if out=$("$PY" - "${PORTS[$1]}" "${3:-1}" <<'EOF'
import http.client, json, sys
for _ in range(int(sys.argv[2])):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
    c.request("POST", "/execute", json.dumps({"script": "def main():\n    return 'alive'\n"}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200 or json.loads(body).get("result") != "alive":
        print("HTTP %d %s" % (r.status, body[:300]))
        sys.exit(1)
EOF
    ); then
        pass "$2"
    else
        fail "$2" "$out"
    fi
}

# children_of PID: "pid comm" of its child processes.
children_of() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(awk '$1 == "PPid:" { print $2 }' "$p/status" 2>/dev/null)" = "$1" ] || continue
        echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
    done
}

# warm_recovery DAEMON: with warm start, a zygote or ready sandbox that dies (the OOM killer, an
# operator) is replaced and requests keep succeeding. The daemon's children: the zygote, and per
# ready sandbox the sandbox itself (local build, "python3") or its guardian (cloud build,
# "pyexecd-guard", whose death ends the sandbox); not the cloud build's short-lived helpers.
warm_recovery() {
    local name=$1 zygote ready after
    zygote=$(children_of "${PIDS[$name]}" | awk '$2 == "pyexecd-zygote" { print $1 }')
    ready=$(children_of "${PIDS[$name]}" | awk '$2 == "python3" || $2 == "pyexecd-guard" { print $1 }')
    if [ -z "$zygote" ]; then
        echo "# $name: no zygote (warm start is off): recovery checks not run"
        return 0
    fi
    # shellcheck disable=SC2086 # pid lists
    kill -KILL $zygote $ready
    # Dead, not dying: a request racing the kill itself would see it killed, as it should.
    local p t0=$SECONDS
    for p in $zygote $ready; do
        while [ -e "/proc/$p" ] && [ "$(state_of "$p")" != Z ] && [ $((SECONDS - t0)) -lt 10 ]; do
            sleep 0.05
        done
    done
    still_serves "$name" "${name}_serves_after_its_zygote_and_ready_sandboxes_were_killed" \
        $((2 * MAX_SANDBOXES + 1))
    after=$(children_of "${PIDS[$name]}" | awk '$2 == "pyexecd-zygote" { print $1 }')
    if [ -n "$after" ] && [ "$after" != "$zygote" ] &&
        grep -q "the zygote exited" "${LOGS[$name]}"; then
        pass "${name}_replaces_a_dead_zygote_and_logs_it"
    else
        fail "${name}_replaces_a_dead_zygote_and_logs_it" "zygote before $zygote, after '$after'"
    fi
}

# requests DAEMON N: N sequential requests that import a module no zygote preloads (a damaged
# root shows); prints one "STATUS RESULT-OR-TYPE RETRY-AFTER" line per request.
requests() {
    "$PY" - "${PORTS[$1]}" "$2" <<'EOF'
import http.client, json, sys
for _ in range(int(sys.argv[2])):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
    c.request("POST", "/execute", json.dumps({"script": "import email.mime.text\ndef main():\n    return 'healed'\n"}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    try:
        body = json.loads(r.read())
    except ValueError:
        body = {}
    c.close()
    kind = body.get("result") if r.status == 200 else (body.get("error") or {}).get("type")
    print(r.status, kind, r.getheader("Retry-After") or "-")
EOF
}

# slot_heal DAEMON (cloud build): a slot root changed from outside (here by the test, as root) is
# quarantined and rebuilt before its next sandbox; while it cannot be rebuilt (the scratch
# directory made immutable), its requests get 503 SandboxUnavailable with Retry-After, never a
# traceback; once it can, the slot serves again.
# no_quarantine NAME: a slot is quarantined only when it cannot be proven clean; after the suites
# (hostile scripts included) no slot of NAME may have been, or every request paid a rebuild.
no_quarantine() {
    local lines
    lines=$(grep "quarantined" "${LOGS[$1]}" | head -n 3)
    if [ -z "$lines" ]; then
        pass "${1}_never_quarantined_a_slot_during_the_suites"
    else
        fail "${1}_never_quarantined_a_slot_during_the_suites" "$(echo "$lines" | tr '\n' ';')"
    fi
}

slot_heal() {
    local name=$1 dir=$SCRATCH_BASE/$1 out d n=$((2 * MAX_SANDBOXES))
    [ -d "$dir/slot-0" ] || return 0
    for d in "$dir"/slot-*; do mv "$d/usr" "$d/usr.damaged"; done
    out=$(requests "$name" "$n")
    if [ "$(echo "$out" | grep -c '^200 healed -$')" -eq "$n" ] &&
        grep -q "quarantined: its root is no longer as built" "${LOGS[$name]}" &&
        grep -q "root rebuilt" "${LOGS[$name]}"; then
        pass "${name}_rebuilds_a_damaged_slot_root_before_using_it"
    else
        fail "${name}_rebuilds_a_damaged_slot_root_before_using_it" "$(echo "$out" | tr '\n' ';')"
    fi
    for d in "$dir"/slot-*; do mv "$d/usr" "$d/usr.damaged"; done
    if ! chattr +i "$dir" 2>/dev/null; then
        echo "# $name: chattr +i does not work on $dir: the unrebuildable-slot check is not run"
        return 0
    fi
    out=$(requests "$name" "$n")
    chattr -i "$dir"
    if echo "$out" | grep -q '^503 SandboxUnavailable 1$' &&
        [ -z "$(echo "$out" | grep -v -e '^503 SandboxUnavailable 1$' -e '^200 healed -$')" ]; then
        pass "${name}_answers_503_while_a_slot_cannot_be_rebuilt"
    else
        fail "${name}_answers_503_while_a_slot_cannot_be_rebuilt" "$(echo "$out" | tr '\n' ';')"
    fi
    out=$(requests "$name" "$n")
    if [ "$(echo "$out" | grep -c '^200 healed -$')" -eq "$n" ]; then
        pass "${name}_serves_again_once_the_slot_can_be_rebuilt"
    else
        fail "${name}_serves_again_once_the_slot_can_be_rebuilt" "$(echo "$out" | tr '\n' ';')"
    fi
}

# run_suite NAME SCRIPT ARGS...: runs one python suite and adds its totals.
run_suite() { # run_suite NAME DAEMON SCRIPT ARGS...
    local name=$1 daemon=$2 script=$3 out last p f
    shift 3
    out=$WORK/$name.out
    local only=() skip=()
    [ -n "${PYEXECD_TEST_ONLY:-}" ] && only=(--only "$PYEXECD_TEST_ONLY")
    [ -n "${PYEXECD_TEST_SKIP:-}" ] && skip=(--skip "$PYEXECD_TEST_SKIP")
    echo "# $name"
    timeout -k 10 900 "$PY" "$HERE/$script" --url "http://127.0.0.1:${PORTS[$daemon]}" \
        --wall-ms "$WALL_MS" --cpu-s "$CPU_S" --request-ms "$REQUEST_MS" --idle-ms "$IDLE_MS" \
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
        procs=$("$PY" - "$SANDBOX_UID" "$PREEXISTING" <<'EOF'
import os, sys
first = int(sys.argv[1])
preexisting = set(sys.argv[2].split())
for pid in os.listdir("/proc"):
    if not pid.isdigit() or pid in preexisting:
        continue
    try:
        status = open("/proc/%s/status" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode("latin-1")
    except OSError:
        continue
    fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
    uids = [int(u) for u in fields.get("Uid", "").split()]
    if any(first <= u <= first + 64 or first + 100 <= u <= first + 164 for u in uids):
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
    # Each daemon owns pyexecd/<pid>-<nonce>; others on this host (containers, killed runs) are
    # not this run's business.
    cgroups=$(echo "$cgroups" | grep -E "/pyexecd/($(echo $OUR_PIDS | tr ' ' '|'))-" || true)
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

echo "# pyexecd suites: binary $BINARY, rootfs $ROOTFS, wall ${WALL_MS}ms, cpu ${CPU_S}s," \
    "max-sandboxes $MAX_SANDBOXES, sandbox uid $SANDBOX_UID${PYEXECD_WRAPPER:+, wrapper $PYEXECD_WRAPPER}"
if [ ! -x "$BINARY" ]; then
    fail "binary_exists" "$BINARY is not an executable file"
elif [ ! -d "$ROOTFS" ]; then
    fail "rootfs_exists" "$ROOTFS is not a directory (build it first)"
else
    # 1. The main instance: the API, hostile, isolation and corpus suites.
    SUITES=${PYEXECD_TEST_SUITES:-api hostile isolation corpus http load}
    before=$FAILED
    if start_daemon main; then
        case " ${SUITES} " in *" api "*)
            run_suite api_test main api_test.py --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH" ;;
        esac
        case " ${SUITES} " in *" hostile "*)
            run_suite hostile_test main hostile_test.py --max-sandboxes "$MAX_SANDBOXES" \
                --queue-length "$QUEUE_LENGTH" ;;
        esac
        case " ${SUITES} " in *" isolation "*)
            run_suite isolation_test main isolation_test.py --max-sandboxes "$MAX_SANDBOXES" \
                --queue-length "$QUEUE_LENGTH" ;;
        esac
        case " ${SUITES} " in *" corpus "*)
            run_suite corpus_test main corpus_test.py --max-sandboxes "$MAX_SANDBOXES" \
                --queue-length "$QUEUE_LENGTH" ;;
        esac
        case " ${SUITES} " in *" http "*)
            run_suite http_test main http_test.py --max-sandboxes "$MAX_SANDBOXES" \
                --queue-length "$QUEUE_LENGTH" ;;
        esac

        # 2. While the main instance runs, a second one (own port, own sandbox uids) with no
        # queue: a request beyond its one sandbox gets 503 at once. Stopping it must not disturb
        # the main instance.
        if start_daemon busy --max-sandboxes 1 --queue-length 0 --sandbox-uid $((SANDBOX_UID + 100)); then
            run_suite api_test_busy busy api_test.py --group busy --max-sandboxes 1 --queue-length 0
            stop_daemon busy
        fi
        still_serves main main_daemon_still_serves_after_another_instance_stopped
        warm_recovery main
        no_quarantine main
        slot_heal main

        stop_daemon main
        if [ "$FAILED" -gt "$before" ]; then log_tail main; log_tail busy; fi
        check_leftovers main
    fi

    # 3. A queue of one with a short wait, then SIGTERM with a request still running.
    before=$FAILED
    if start_daemon queue --max-sandboxes 1 --queue-length 1 --queue-wait-ms "$QUEUE_WAIT_MS"; then
        run_suite api_test_queue queue api_test.py --group queue,drain --max-sandboxes 1 \
            --queue-length 1 --queue-wait-ms "$QUEUE_WAIT_MS" --daemon-pid "${PIDS[queue]}"
        # The drain test sends SIGTERM itself: a second one would not test draining.
        if grep -Eq '^(PASS|FAIL) sigterm_' "$WORK/api_test_queue.out"; then
            stop_daemon queue signalled
        else
            stop_daemon queue
        fi
        [ "$FAILED" -gt "$before" ] && log_tail queue
        check_leftovers queue
    fi

    # 4. The load suite: its own instance under a low open-file limit (as in small images), a
    # queue as long as its clients are many, a short idle timeout so that floods churn.
    case " ${SUITES} " in *" load "*)
        before=$FAILED
        PREFIX=(prlimit --nofile=256:256 --)
        main_idle_ms=$IDLE_MS
        IDLE_MS=2000 # (start_daemon passes it to a binary that has --idle-ms)
        if start_daemon load --queue-length 64; then
            export PYEXECD_TEST_DAEMON_LOG=${LOGS[load]}
            run_suite load_test load load_test.py --max-sandboxes "$MAX_SANDBOXES" \
                --queue-length 64 --idle-ms 2000 --daemon-pid "${PIDS[load]}"
            unset PYEXECD_TEST_DAEMON_LOG
            stop_daemon load
            [ "$FAILED" -gt "$before" ] && log_tail load
            check_leftovers load
        fi
        PREFIX=()
        IDLE_MS=$main_idle_ms
        ;;
    esac
fi

rm -rf "$SCRATCH_BASE"
[ "$FAILED" -eq 0 ] && rm -rf "$WORK" || echo "# logs kept in $WORK"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
