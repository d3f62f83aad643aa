#!/usr/bin/env bash
# pyexecd benchmark (`make bench`): cold start against warm start, side by side. A measurement,
# not a test: it never fails because of speed, only when a daemon cannot start or a request gets a
# wrong answer (a 200 with another result, a status other than 503/504, a broken connection).
#
#   tests/bench.sh [local] [cloud] [gvisor]        (default: all three legs, in that order)
#
# Legs: local = build/local/pyexecd on the host kernel; cloud = build/cloud/pyexecd on the host
# kernel; gvisor = build/cloud/pyexecd inside `runsc --network=none do`, with the client inside the
# same gVisor sandbox (a daemon under runsc is not reachable from the host), as in tests/matrix.sh.
#
# Each leg starts two daemons of the same build with the same flags (printed), each on a free
# 127.0.0.1 port with its own uid range and scratch: cold (PYEXECD_WARM_START=0, the baseline) and
# warm (PYEXECD_WARM_START=1). tests/bench_client.py (HTTP/1.1 keep-alive, standard library only)
# then measures them interleaved, each measurement on one daemon then the other (order alternating,
# both idle before each), so that other load on the machine weighs on both alike. Per script
# (`return 1`, the README's pandas example, a numpy 200x200 matrix product), for each daemon:
#   - 3 uncounted warm-up requests, then N sequential requests: p50/p95/p99/mean latency in ms;
#   - throughput with 1, 4 and 16 concurrent clients (threads, one persistent connection each) for
#     SECONDS each: correct answers per second, and errors;
#   - the daemon's own CPU per request: utime+stime of the daemon process (/proc/PID/stat, its
#     threads but not its children) over the three throughput runs / requests answered;
#   - page faults per request over FAULT_N further sequential requests (after 3 uncounted ones; the
#     daemon idle and its ready sandboxes refilled before the first; the window ends once the last
#     sandbox is reaped and its replacement made, so each request carries one whole sandbox), one
#     row each:
#       machine-wide (pgfault) / (pgmajfault): the deltas of /proc/vmstat, everything on the
#           machine (the client, and other work: this machine is shared, so read the rows below);
#       daemon: minflt+majflt of the daemon process (/proc/PID/stat: all its threads);
#       zygote: the same of its zygote (comm pyexecd-zygote; "none" in the cold configuration);
#       sandboxes / guardians / daemon's helpers: minflt+majflt of every process of the daemon's
#           tree that ended in the window, whole life, from the kernel's taskstats exit records
#           (a child process of the client listens on generic netlink): sandboxes = the jailed
#           Pythons and all they fork; guardians = the cloud jail's pyexecd-guard processes and
#           their rlimit helpers; helpers = the daemon's other children (cloud: uid sweep, /tmp
#           cleaner);
#       client: its getrusage (RUSAGE_SELF) until the last answer;
#       ours: the six summed; major faults/req: ours = their majflt;
#       not ours: machine-wide minus ours (other work on the machine, the taskstats listener,
#           failed faults, which pgfault counts and the per-task counters do not);
#       reaped by the daemon (cminflt): the daemon's cminflt+cmajflt delta, its reaped children
#           with what they reaped: a cross-check of sandboxes+guardians+helpers that misses the
#           warm cloud sandboxes (children of the zygote, which ignores SIGCHLD, so the kernel
#           drops their counts);
#       processes ended/req: how many processes of each of the three groups ended per request.
#     A count that cannot be had here is "n/a", with the reason in a "# faults" line under the
#     table: under gVisor there is no /proc/vmstat and per-process counters stay 0, so every
#     fault row is n/a and the fault run is skipped; without taskstats (not root, not the initial
#     pid namespace) the three tree rows are n/a;
# and, once idle at the end, the memory of its children: a zygote (comm "pyexecd-zygote") and the
# idle pre-started sandboxes (the daemon's other children and the zygote's children), as USS =
# Private_Clean + Private_Dirty + Private_Hugetlb (smaps_rollup, else smaps; "n/a" if unreadable,
# "none" if there are none, as in the cold configuration).
#
# Prints a header (date, commit; the machine: CPU model, CPUs, memory, kernel, and the signs of a
# hypervisor: the cpu flag, the CPUID signature, the clock source, systemd-detect-virt), then per
# leg one table: rows = script x metric,
# columns `cold | warm | cold/warm`, and the leg's wall time. Progress lines start with `#`.
# The exit status is 0, or 1 if any leg failed (the others still run), 2 for a usage error.
# Default run: about 15-17 minutes on a 2-vCPU machine. Needs root, the binaries and the rootfs
# (make all && make MODE=cloud), and runsc for the gvisor leg.
#
# Environment (all optional):
#   PYEXECD_BENCH_N                 sequential requests per script (default 50; gvisor: 20)
#   PYEXECD_BENCH_GVISOR_N          the same for the gvisor leg alone (default PYEXECD_BENCH_N or 20)
#   PYEXECD_BENCH_FAULT_N=100       sequential requests of the page-fault run per script (0: none)
#   PYEXECD_BENCH_SECONDS=10        seconds per throughput run
#   PYEXECD_BENCH_CLIENTS=1,4,16    concurrent clients of the throughput runs
#   PYEXECD_BENCH_MAX_SANDBOXES=4   --max-sandboxes of both configurations
#   PYEXECD_BENCH_SANDBOX_UID=710000  --sandbox-uid of cold; warm gets this + 1000 (both outside
#                                   run-suite.sh's and matrix.sh's ranges)
#   PYEXECD_BENCH_LOCAL_BIN, PYEXECD_BENCH_CLOUD_BIN   the binaries (default build/*/pyexecd)
#   PYEXECD_ROOTFS                  the rootfs (default build/rootfs)
#   RUNSC=runsc                     the gVisor runtime
#   PYEXECD_BENCH_BASELINE=DIR      compare two builds instead: the left column ("cold") is
#                                   DIR/local/pyexecd or DIR/cloud/pyexecd (another commit's
#                                   build/), with warm start on like the right one, and with
#                                   DIR/rootfs if there is one (the zygote and the harness live
#                                   in the rootfs, not in the binary)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
CLIENT=$HERE/bench_client.py
LOCAL_BIN=${PYEXECD_BENCH_LOCAL_BIN:-$ROOT/build/local/pyexecd}
CLOUD_BIN=${PYEXECD_BENCH_CLOUD_BIN:-$ROOT/build/cloud/pyexecd}
ROOTFS=${PYEXECD_ROOTFS:-$ROOT/build/rootfs}
case $ROOTFS in /*) ;; *) ROOTFS=$ROOT/$ROOTFS ;; esac
RUNSC=${RUNSC:-runsc}
BASELINE=${PYEXECD_BENCH_BASELINE:-}
HOST_N=${PYEXECD_BENCH_N:-50}
GVISOR_N=${PYEXECD_BENCH_GVISOR_N:-${PYEXECD_BENCH_N:-20}}
FAULT_N=${PYEXECD_BENCH_FAULT_N:-100}
SECONDS_PER_RUN=${PYEXECD_BENCH_SECONDS:-10}
CLIENTS=${PYEXECD_BENCH_CLIENTS:-1,4,16}
MAX_SANDBOXES=${PYEXECD_BENCH_MAX_SANDBOXES:-4}
SANDBOX_UID=${PYEXECD_BENCH_SANDBOX_UID:-710000}
# The queue holds every client beyond the sandboxes, and a queued request waits as long as it
# takes (cold pandas under gVisor with 16 clients queues for ~10 s): the bench measures what the
# daemon serves, not its admission limits. Everything else is the daemon's default.
MAX_CLIENTS=$(tr ',' '\n' <<<"$CLIENTS" | sort -n | tail -n 1)
QUEUE_LENGTH=$((MAX_CLIENTS > 16 ? MAX_CLIENTS : 16))
QUEUE_WAIT_MS=60000
HEALTH_S=180

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- one leg, in its own process (PYEXECD_BENCH_LEG set): both configurations, then the table ---

WORK=
declare -A PID=() PORT=()

# stop_daemons: SIGTERM to every daemon still running, then SIGKILL to one still there after 30 s.
stop_daemons() {
    local config pid rc i
    for config in "${!PID[@]}"; do
        kill -TERM "${PID[$config]}" 2>/dev/null || true
    done
    for config in "${!PID[@]}"; do
        pid=${PID[$config]}
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        unset "PID[$config]"
        [ "$rc" -eq 0 ] || echo "# note: the $config daemon exited with status $rc after SIGTERM"
    done
}

# shellcheck disable=SC2317 # only called by the traps
leg_cleanup() {
    stop_daemons
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}

# start_daemon CONFIG(cold|warm) BINARY UID: starts it on a free port (PID[CONFIG], PORT[CONFIG]).
start_daemon() {
    local config=$1 bin=$2 uid=$3 warm port rootfs=$ROOTFS cloud=0
    warm=$([ "$config" = warm ] && echo 1 || echo 0)
    port=$(free_port)
    [ "$bin" = "$CLOUD_BIN" ] && cloud=1
    if [ "$config" = cold ] && [ -n "$BASELINE" ]; then
        bin=$BASELINE/$(basename "$(dirname "$bin")")/pyexecd warm=1
        # Its zygote and harness are those of its rootfs.
        [ ! -d "$BASELINE/rootfs" ] || rootfs=$BASELINE/rootfs
    fi
    local flags=(--bind 127.0.0.1 --port "$port" --rootfs "$rootfs" --max-sandboxes "$MAX_SANDBOXES"
        --queue-length "$QUEUE_LENGTH" --queue-wait-ms "$QUEUE_WAIT_MS" --sandbox-uid "$uid")
    if [ "$cloud" = 1 ]; then
        mkdir -p "$WORK/scratch-$config"
        flags+=(--scratch "$WORK/scratch-$config/scratch")
    fi
    echo "# $config: PYEXECD_WARM_START=$warm $bin ${flags[*]}"
    (cd "$ROOT" && exec env PYEXECD_WARM_START="$warm" "$bin" "${flags[@]}") >"$WORK/$config.log" 2>&1 &
    PID[$config]=$!
    PORT[$config]=$port
}

# ready CONFIG: 0 once the daemon answers GET /health; else prints why, from its log.
ready() {
    local config=$1 pid=${PID[$1]} rc=0
    if "$PY" "$CLIENT" health --port "${PORT[$config]}" --pid "$pid" \
        --timeout "$HEALTH_S" >/dev/null; then
        return 0
    fi
    if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
        echo "# FAIL: the $config daemon did not answer GET /health within ${HEALTH_S}s; its log:"
    else
        wait "$pid" 2>/dev/null || rc=$?
        unset "PID[$config]"
        echo "# FAIL: the $config daemon exited with status $rc before answering GET /health; its log:"
    fi
    tail -n 20 "$WORK/$config.log" | sed 's/^/#   /'
    return 1
}

# log_notes CONFIG: the warnings and errors the daemon logged, if any.
log_notes() {
    local log=$WORK/$1.log count
    count=$(grep -Ec ' (warn|error) ' "$log" || true)
    if [ "$count" -gt 0 ]; then
        echo "# note: the $1 daemon logged $count warning/error line(s), e.g.:"
        grep -E ' (warn|error) ' "$log" | head -n 3 | sed 's/^/#   /'
    fi
}

run_leg() {
    local leg=$1 bin title n rc=0 config
    case $leg in
    local) bin=$LOCAL_BIN title="local build, host kernel" n=$HOST_N ;;
    cloud) bin=$CLOUD_BIN title="cloud build, host kernel" n=$HOST_N ;;
    gvisor) bin=$CLOUD_BIN title="cloud build, gVisor (daemon and client in one runsc sandbox)" n=$GVISOR_N ;;
    *) echo "unknown leg $leg" >&2 && return 2 ;;
    esac
    [ -z "$BASELINE" ] || title="$title; left column: the baseline build $BASELINE, warm"
    WORK=$(mktemp -d /var/tmp/pyexecd-bench.XXXXXX) # next to the rootfs: cloud --scratch needs it
    trap leg_cleanup EXIT
    trap 'leg_cleanup; exit 130' INT TERM
    echo "# $title: $n sequential requests per script, ${SECONDS_PER_RUN} s per throughput run," \
        "clients $CLIENTS, $FAULT_N sequential requests for the page faults; both daemons run at" \
        "once and are measured in turn"
    # Both at once, each with its own port, scratch and uid range: they are measured interleaved.
    start_daemon cold "$bin" "$SANDBOX_UID"
    start_daemon warm "$bin" $((SANDBOX_UID + 1000))
    for config in cold warm; do
        ready "$config" || rc=1
    done
    if [ "$rc" -ne 0 ]; then
        echo "# FAIL $leg: a daemon did not start"
        return 1
    fi
    "$PY" "$CLIENT" measure --n "$n" --fault-n "$FAULT_N" --seconds "$SECONDS_PER_RUN" \
        --clients "$CLIENTS" \
        --target cold "${PORT[cold]}" "${PID[cold]}" "$WORK/cold.json" \
        --target warm "${PORT[warm]}" "${PID[warm]}" "$WORK/warm.json" || rc=$?
    stop_daemons
    "$PY" "$CLIENT" report --title "$title" "$WORK/cold.json" "$WORK/warm.json" || true
    for config in cold warm; do log_notes "$config"; done
    case $rc in
    0) ;;
    3) echo "# FAIL $leg: wrong answers (the bench_client lines above say which)" ;;
    *) echo "# FAIL $leg: the client failed (status $rc)" ;;
    esac
    [ "$rc" -eq 0 ]
}

if [ -n "${PYEXECD_BENCH_LEG:-}" ]; then
    run_leg "$PYEXECD_BENCH_LEG"
    exit
fi

# --- the outer run: header, then each leg in its own process --------------------------------------

legs=()
for arg in "$@"; do
    case $arg in
    local | cloud | gvisor) legs+=("$arg") ;;
    *)
        echo "usage: tests/bench.sh [local] [cloud] [gvisor]   (default: all)" >&2
        exit 2
        ;;
    esac
done
[ ${#legs[@]} -gt 0 ] || legs=(local cloud gvisor)

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff --quiet HEAD 2>/dev/null; then commit="$commit (+ uncommitted changes)"; fi
echo "# pyexecd bench, $(date '+%Y-%m-%d %H:%M:%S %z'): nproc $(nproc), kernel $(uname -r), commit $commit"
echo "# $("$PY" "$CLIENT" machine)"
echo "# legs: ${legs[*]}; local $LOCAL_BIN, cloud $CLOUD_BIN, rootfs $ROOTFS"

failed=0
start=$SECONDS
for leg in "${legs[@]}"; do
    t0=$SECONDS
    rc=0
    echo
    # Other work on the machine skews every figure (gVisor has no load average of its own).
    echo "# host load average before the $leg leg: $(cut -d' ' -f1-3 /proc/loadavg)"
    case $leg in
    local | cloud)
        bin=$LOCAL_BIN
        [ "$leg" = cloud ] && bin=$CLOUD_BIN
        if [ ! -x "$bin" ] || [ ! -d "$ROOTFS" ]; then
            echo "# FAIL $leg: $bin or $ROOTFS is missing (make -C $ROOT all && make -C $ROOT MODE=cloud)"
            rc=1
        else
            PYEXECD_BENCH_LEG=$leg bash "$HERE/bench.sh" || rc=$?
        fi
        ;;
    gvisor)
        if ! command -v "$RUNSC" >/dev/null; then
            echo "# FAIL gvisor: $RUNSC not found (apt-get install runsc)"
            rc=1
        elif [ ! -x "$CLOUD_BIN" ] || [ ! -d "$ROOTFS" ]; then
            echo "# FAIL gvisor: $CLOUD_BIN or $ROOTFS is missing (make -C $ROOT all && make -C $ROOT MODE=cloud)"
            rc=1
        else
            echo "# gVisor: $("$RUNSC" --version 2>&1 | head -n 1)"
            # Through a pipe: gVisor keeps its own offset per donated fd, so a file shared by its
            # stdout and stderr would be overwritten (tests/matrix.sh).
            timeout -k 10 3600 "$RUNSC" --network=none "do" env PYEXECD_BENCH_LEG=gvisor \
                PYEXECD_BENCH_N="$HOST_N" PYEXECD_BENCH_GVISOR_N="$GVISOR_N" \
                PYEXECD_BENCH_FAULT_N="$FAULT_N" \
                PYEXECD_BENCH_SECONDS="$SECONDS_PER_RUN" PYEXECD_BENCH_CLIENTS="$CLIENTS" \
                PYEXECD_BENCH_MAX_SANDBOXES="$MAX_SANDBOXES" PYEXECD_BENCH_SANDBOX_UID="$SANDBOX_UID" \
                PYEXECD_BENCH_CLOUD_BIN="$CLOUD_BIN" PYEXECD_ROOTFS="$ROOTFS" \
                bash "$HERE/bench.sh" 2>&1 | cat || rc=$?
        fi
        ;;
    esac
    [ "$rc" -eq 0 ] || failed=1
    echo "# leg $leg took $((SECONDS - t0)) s$([ "$rc" -eq 0 ] || echo ", FAILED (status $rc)");" \
        "host load average after it: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "# bench took $((SECONDS - start)) s"
exit "$failed"
