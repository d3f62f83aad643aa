#!/usr/bin/env bash
# Where the page faults of a warm request go: a profile by process, by phase of the sandbox, by
# code and by memory. A measurement for a developer, not a test (neither `make test` nor `make
# bench` runs it); it never fails because of what it finds.
#
#   tests/fault_profile.sh [local] [cloud]        (default: both legs)
#
# Per leg it starts one warm daemon (build/<leg>/pyexecd, PYEXECD_WARM_START=1, the bench's flags:
# --max-sandboxes 4, 127.0.0.1 on a free port), then per script (tests/bench_client.py's return1 and
# pandas; PYEXECD_PROFILE_SCRIPTS):
#   1. counts: `bench_client.py faults`: COUNT_N sequential requests, faults per request machine-wide
#      and per process group from the kernel's own counters (tests/bench_client.py, the comment
#      above PAGE_FAULT_GROUPS, says exactly what each is). No perf: these are the figures to quote.
#   2. profile: 3 uncounted requests, the daemon idle again, then
#        perf record -c 1 -d -e page-faults -e syscalls:sys_enter_setsid
#                    -e syscalls:sys_enter_prctl --filter 'option == 22'     (PR_SET_SECCOMP)
#                    -e syscalls:sys_enter_read --filter 'fd == 0'
#                    -e syscalls:sys_enter_write --filter 'fd == 3'
#                    -p DAEMON,ZYGOTE -- (PERF_N sequential requests; sleep 1)
#      every page fault (-c 1: no sampling) with the instruction and the data address (-d) that
#      faulted, of the daemon's threads, the zygote, and every process they fork while perf runs
#      (perf follows the children of the processes it attached to). The ready sandboxes that
#      existed before it attached are not seen: sandbox figures are per sandbox perf saw, the
#      others per request. The page-fault software event fires on every fault that reaches the
#      handler with user registers; it leaves out faults taken inside get_user_pages, which the
#      kernel's per-task counters of step 1 include, so the totals differ a little.
#   3. callers: the same for CALLERS_N requests with --call-graph dwarf,8192 (the rootfs's Python
#      has no frame pointers): the most frequent call chains. Each fault then copies 8 KiB of
#      stack into perf's buffer (-m 16M), which can still overflow: the "perf, ...: N recorded,
#      M lost" line says so; read the callers' shares rather than their counts.
#   4. perf script, folded by a few lines of Python below into tables, each with faults per request
#      (per sandbox for the sandbox rows) and the share:
#      - by process group, as step 1 names them, from the pid and the name at the time of the
#        fault (daemon: its pid; zygote: its pid; guardian: pyexecd-guard, with the rlimit helpers
#        it forks; helper: the daemon's forks still named pyexecd, which includes a guardian's
#        first faults before it names itself; sandbox: the zygote's forks, named pyexecd-zygote
#        until the jail entry renames them python3);
#      - a sandbox's faults by phase, cut at its own system calls: "ready" (fork to setsid: in
#        the local jail the read of "go", in the cloud jail the tracer hand-over too), "jail
#        entry" (setsid to seccomp: mounts, hostname, uid, capabilities, fds, the filter),
#        "harness set-up" (seccomp to the first read of fd 0: reseeding, the harness's start),
#        "request" (the first read of fd 0, where a ready sandbox waits for its script, to the
#        result's write on fd 3: reading, compiling and running the script, the JSON result),
#        "exit" (after the result: flush and _exit). Only "request" is on the request's path: a
#        ready sandbox has done the first three before its request arrives;
#      - by code: the function whose instruction faulted (user, or the kernel's when it wrote to
#        user memory, e.g. copy_to_user into a page not yet copied) and its object;
#      - by memory: the mapping of the faulting address (the python binary's own data: its type
#        objects and static singletons; //anon: pymalloc arenas and large allocations; [heap];
#        [stack]; a library's data) and, for the python binary, the data symbol;
#      - the top call chains of the callers run.
#
# perf has to read the Python of the rootfs, not the host's: it resolves symbols by entering the
# mount namespace of the (live) zygote, so perf script runs before the daemon stops. The rootfs's
# python3.11 keeps only its dynamic symbols: CPython's static functions show as [unknown] with
# their object. perf mounts tracefs for the tracepoints if it is not mounted.
#
# Needs root, perf, the binaries and the rootfs (make build/local/pyexecd build/cloud/pyexecd
# rootfs). Takes about 2-4 minutes per leg on a 2-vCPU machine.
#
# Environment (all optional):
#   PYEXECD_PROFILE_SCRIPTS=return1,pandas   PYEXECD_PROFILE_COUNT_N=100   PYEXECD_PROFILE_N=30
#   PYEXECD_PROFILE_CALLERS_N=5              PYEXECD_PROFILE_TOP=12 (rows per table)
#   PYEXECD_PROFILE_KEEP=DIR                 keep perf.data and the perf script text there
#   PYEXECD_PROFILE_SANDBOX_UID=714000       --sandbox-uid (outside the suites' and bench's ranges)
#   PYEXECD_BENCH_LOCAL_BIN, PYEXECD_BENCH_CLOUD_BIN, PYEXECD_ROOTFS   as for tests/bench.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
CLIENT=$HERE/bench_client.py
LOCAL_BIN=${PYEXECD_BENCH_LOCAL_BIN:-$ROOT/build/local/pyexecd}
CLOUD_BIN=${PYEXECD_BENCH_CLOUD_BIN:-$ROOT/build/cloud/pyexecd}
ROOTFS=${PYEXECD_ROOTFS:-$ROOT/build/rootfs}
case $ROOTFS in /*) ;; *) ROOTFS=$ROOT/$ROOTFS ;; esac
SCRIPTS=${PYEXECD_PROFILE_SCRIPTS:-return1,pandas}
COUNT_N=${PYEXECD_PROFILE_COUNT_N:-100}
PERF_N=${PYEXECD_PROFILE_N:-30}
CALLERS_N=${PYEXECD_PROFILE_CALLERS_N:-5}
TOP=${PYEXECD_PROFILE_TOP:-12}
KEEP=${PYEXECD_PROFILE_KEEP:-}
SANDBOX_UID=${PYEXECD_PROFILE_SANDBOX_UID:-714000}

legs=()
for arg in "$@"; do
    case $arg in
    local | cloud) legs+=("$arg") ;;
    *)
        echo "usage: tests/fault_profile.sh [local] [cloud]   (default: both)" >&2
        exit 2
        ;;
    esac
done
[ ${#legs[@]} -gt 0 ] || legs=(local cloud)
command -v perf >/dev/null || {
    echo "fault_profile: perf not found (apt-get install linux-perf)" >&2
    exit 1
}

WORK=$(mktemp -d /var/tmp/pyexecd-profile.XXXXXX) # next to the rootfs: cloud --scratch needs it
DAEMON=
# shellcheck disable=SC2317 # only called by the traps
cleanup() {
    stop_daemon
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

stop_daemon() {
    local i
    [ -n "$DAEMON" ] || return 0
    kill -TERM "$DAEMON" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$DAEMON" 2>/dev/null || break
        [ "$(awk '{print $3}' "/proc/$DAEMON/stat" 2>/dev/null)" = Z ] && break
        sleep 0.1
    done
    kill -KILL "$DAEMON" 2>/dev/null || true
    wait "$DAEMON" 2>/dev/null || true
    DAEMON=
}

# The folding of `perf script` into tables: argv = the text of the profile run, of the callers
# run, the daemon's pid, the zygote's pid, requests of each run, rows per table.
FOLD=$(
    cat <<'EOF'
import collections, re, sys

text, callers_text, daemon, zygote, n, callers_n, top = sys.argv[1:8]
daemon, zygote, n, callers_n, top = int(daemon), int(zygote), int(n), int(callers_n), int(top)
HEAD = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+(?P<time>[\d.]+):\s+"
                  r"(?P<event>[\w:-]+):\s*(?P<rest>.*)$")
FAULT = re.compile(r"^(?P<addr>[0-9a-f]+)\s+(?P<asym>.*?)\s+\((?P<adso>[^()]*)\)\s+"
                   r"(?P<ip>[0-9a-f]+)\s+(?P<sym>.*)\s+\((?P<dso>[^()]*)\)\s*$")
FRAME = re.compile(r"^\s+(?P<ip>[0-9a-f]+)\s+(?P<sym>.*)\s+\((?P<dso>[^()]*)\)\s*$")
PHASES = ("ready", "jail entry", "harness set-up", "request", "exit")
NEXT = {"syscalls:sys_enter_setsid": ("ready", "jail entry"),
        "syscalls:sys_enter_prctl": ("jail entry", "harness set-up"),
        "syscalls:sys_enter_read": ("harness set-up", "request"),
        "syscalls:sys_enter_write": ("request", "exit")}


def role(pid, comm):
    if pid == daemon:
        return "daemon"
    if pid == zygote:
        return "zygote"
    if comm == "pyexecd-guard":
        return "guardian"
    if comm == "pyexecd":
        return "helper"
    return "sandbox"  # pyexecd-zygote until the jail entry names it python3


def short(dso):
    return dso.rsplit("/", 1)[-1] if dso.startswith("/") else dso


def memory(adso, asym):
    if adso.endswith("/python3.11") or adso.endswith("/python3"):
        return "python3.11 data: " + (asym if asym != "[unknown]" else "(no symbol)")
    return short(adso)


def events(path):
    """(pid, comm, event, fault match or None, [frames])."""
    cur = None
    with open(path, errors="replace") as f:
        for line in f:
            m = HEAD.match(line)
            if m and "PERF_RECORD" not in line:
                if cur:
                    yield cur
                fm = FAULT.match(m.group("rest")) if m.group("event") == "page-faults" else None
                cur = (int(m.group("pid")), m.group("comm"), m.group("event"), fm, [])
            elif cur is not None:
                fr = FRAME.match(line)
                if fr:
                    cur[4].append("%s (%s)" % (fr.group("sym"), short(fr.group("dso"))))
    if cur:
        yield cur


def fold(path):
    phase, reached = {}, collections.defaultdict(set)
    by = collections.defaultdict(collections.Counter)  # (table, group) -> key -> faults
    for pid, comm, event, fm, frames in events(path):
        g = role(pid, comm)
        if event in NEXT:
            if g == "sandbox" and phase.get(pid, "ready") == NEXT[event][0]:
                phase[pid] = NEXT[event][1]
                reached[NEXT[event][1]].add(pid)
            continue
        if event != "page-faults":
            continue
        p = phase.setdefault(pid, "ready") if g == "sandbox" else None
        if g == "sandbox":
            reached["ready"].add(pid)
        grp = g if p is None else "sandbox: " + p
        by["group"][g] += 1
        by["comm"][(g, comm)] += 1
        if p is not None:
            by["phase"][p] += 1
        if fm:
            by[("code", grp)]["%s (%s)" % (fm.group("sym"), short(fm.group("dso")))] += 1
            by[("memory", grp)][memory(fm.group("adso"), fm.group("asym"))] += 1
        if frames:
            chain = []
            for fr in frames:
                if not chain or chain[-1] != fr:
                    chain.append(fr)
            by[("chain", grp)][" <- ".join(chain[:8])] += 1
    return by, reached


def per(group, reached, count, runs):
    """count per request (daemon, zygote, guardian, helper) or per sandbox seen in the phase."""
    if group.startswith("sandbox: "):
        k = len(reached[group.split(": ", 1)[1]])
        return count / k if k else float("nan"), "per sandbox (%d)" % k
    return count / float(runs), "per request"


def table(title, counter, group, reached, runs, limit):
    total = sum(counter.values())
    if not total:
        return
    scale, unit = per(group, reached, 1.0, runs)
    print("  %s (%s, %.0f faults %s):" % (title, group, total * scale, unit.split(" (")[0]))
    for key, c in counter.most_common(limit):
        print("    %8.1f  %5.1f%%  %s" % (c * scale, 100.0 * c / total, key))


by, reached = fold(text)
seen = len(reached["request"])
print("  faults recorded by perf, per process group: " + ", ".join(
    "%s %.1f/req" % (g, c / float(n)) for g, c in sorted(by["group"].items(), key=lambda x: -x[1])
) + " (over %d requests; %d sandboxes reached their request)" % (n, seen))
if seen:
    print("  a sandbox's faults by phase (per sandbox that reached the phase):")
    tot = 0.0
    for p in PHASES:
        k = len(reached[p])
        v = by["phase"][p] / float(k) if k else 0.0
        tot += v
        print("    %-15s %7.1f   (%d sandboxes)" % (p, v, k))
    print("    %-15s %7.1f" % ("sum", tot))
print("  by process name at the time of the fault (per request):")
for (g, comm), c in sorted(by["comm"].items(), key=lambda x: -x[1]):
    print("    %8.1f  %-8s %s" % (c / float(n), g, comm))
groups = [k[1] for k in by if isinstance(k, tuple) and k[0] == "code"]
order = sorted(groups, key=lambda g: -sum(by[("code", g)].values()))
for g in order:
    table("code that faulted", by[("code", g)], g, reached, n, top)
    table("memory that faulted", by[("memory", g)], g, reached, n, top)
if callers_text != "-":
    cby, creached = fold(callers_text)
    cgroups = [k[1] for k in cby if isinstance(k, tuple) and k[0] == "chain"]
    for g in sorted(cgroups, key=lambda g: -sum(cby[("chain", g)].values())):
        table("call chains (%d requests, dwarf)" % callers_n, cby[("chain", g)], g, creached,
              callers_n, max(3, top // 2))
EOF
)

# perf_note DATA WHAT: how many page-fault samples perf kept and lost (a full ring buffer drops
# them; the tables below are then short by that much).
perf_note() {
    perf report -i "$1" --stats 2>/dev/null | awk -v what="$2" '
        /^page-faults stats:/ { pf = 1; next }
        pf && /SAMPLE events:/ { kept = $3 }
        pf && /LOST_SAMPLES events:/ { lost = $3 }
        /^[^ ].* stats:$/ && !/^page-faults/ { pf = 0 }
        /^ *LOST events:/ { overflows = $3 }
        END { printf "  perf, %s: %d page faults recorded, %d lost (%d buffer overflows)\n",
              what, kept, lost, overflows }'
}

# profile LEG BIN: one daemon, every script.
profile() {
    local leg=$1 bin=$2 port flags script data zygote i
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    flags=(--bind 127.0.0.1 --port "$port" --rootfs "$ROOTFS" --max-sandboxes 4 --sandbox-uid "$SANDBOX_UID")
    [ "$leg" = local ] || flags+=(--scratch "$WORK/scratch-$leg")
    echo "## $leg leg: PYEXECD_WARM_START=1 $bin ${flags[*]}"
    (cd "$ROOT" && exec env PYEXECD_WARM_START=1 "$bin" "${flags[@]}") >"$WORK/$leg.log" 2>&1 &
    DAEMON=$!
    if ! "$PY" "$CLIENT" health --port "$port" --pid "$DAEMON" --timeout 180 >/dev/null; then
        echo "# $leg: the daemon did not start; its log:"
        tail -n 20 "$WORK/$leg.log" | sed 's/^/#   /'
        stop_daemon
        return 1
    fi
    zygote=
    for ((i = 0; i < 100 && ${#zygote} == 0; i++)); do
        zygote=$("$PY" -c "import sys; sys.path.insert(0, '$HERE'); import bench_client as b; print(b.zygote_of($DAEMON) or '')")
        [ -n "$zygote" ] || sleep 0.1
    done
    if [ -z "$zygote" ]; then
        echo "# $leg: no zygote (is warm start on?)"
        stop_daemon
        return 1
    fi
    echo "# daemon $DAEMON, zygote $zygote"
    for script in ${SCRIPTS//,/ }; do
        echo
        echo "### $leg, warm, $script"
        # A wrong answer is printed by the client and the profile goes on.
        { "$PY" "$CLIENT" faults --port "$port" --pid "$DAEMON" --script "$script" \
            --n "$COUNT_N" || true; } | sed 's/^/  counts: /'
        data=$WORK/$leg-$script
        "$PY" "$CLIENT" latency --port "$port" --script "$script" --n 3 --warmup 0 >/dev/null || true
        "$PY" "$CLIENT" quiet --port "$port" --pid "$DAEMON"
        perf record -q -B -N -c 1 -d -e page-faults -e syscalls:sys_enter_setsid \
            -e syscalls:sys_enter_prctl --filter 'option == 22' \
            -e syscalls:sys_enter_read --filter 'fd == 0' \
            -e syscalls:sys_enter_write --filter 'fd == 3' \
            -p "$DAEMON,$zygote" -o "$data.data" -- sh -c "\"$PY\" \"$CLIENT\" latency --port $port \
            --script $script --n $PERF_N --warmup 0 >/dev/null && sleep 1" 2>"$data.err" || {
            echo "  perf record failed:"
            sed 's/^/    /' "$data.err"
            continue
        }
        perf script -i "$data.data" -F comm,pid,tid,time,event,ip,sym,dso,addr \
            >"$data.txt" 2>"$data.err"
        perf_note "$data.data" "$PERF_N requests"
        local callers=-
        if [ "$CALLERS_N" -gt 0 ]; then
            "$PY" "$CLIENT" quiet --port "$port" --pid "$DAEMON"
            if perf record -q -B -N -c 1 --call-graph dwarf,8192 -m 16M -e page-faults \
                -e syscalls:sys_enter_setsid/call-graph=no/ \
                -e syscalls:sys_enter_prctl/call-graph=no/ --filter 'option == 22' \
                -e syscalls:sys_enter_read/call-graph=no/ --filter 'fd == 0' \
                -e syscalls:sys_enter_write/call-graph=no/ --filter 'fd == 3' \
                -p "$DAEMON,$zygote" -o "$data-callers.data" -- sh -c "\"$PY\" \"$CLIENT\" latency \
                --port $port --script $script --n $CALLERS_N --warmup 0 >/dev/null && sleep 1" \
                2>"$data.err"; then
                perf script -i "$data-callers.data" --no-inline -F comm,pid,tid,time,event,ip,sym,dso \
                    >"$data-callers.txt" 2>"$data.err"
                callers=$data-callers.txt
                perf_note "$data-callers.data" "$CALLERS_N requests with call chains"
            else
                echo "  perf record --call-graph dwarf failed: $(head -n 1 "$data.err")"
            fi
        fi
        "$PY" -c "$FOLD" "$data.txt" "$callers" "$DAEMON" "$zygote" "$PERF_N" "$CALLERS_N" "$TOP"
        if [ -n "$KEEP" ]; then
            mkdir -p "$KEEP"
            cp "$data".* "$data"-callers.* "$KEEP/" 2>/dev/null || true
        fi
        rm -f "$data".* "$data"-callers.*
    done
    stop_daemon
}

echo "# pyexecd fault profile, $(date '+%Y-%m-%d %H:%M:%S %z'), commit" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# $("$PY" "$CLIENT" machine)"
echo "# $(perf version); host load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for leg in "${legs[@]}"; do
    echo
    bin=$LOCAL_BIN
    [ "$leg" = cloud ] && bin=$CLOUD_BIN
    profile "$leg" "$bin" || rc=1
done
exit "$rc"
