#!/usr/bin/env bash
# The pyexecd mode x runtime matrix.
#
#   tests/matrix.sh
#
# | leg             | build | runtime | expectation                                               |
# | cloud_host      | cloud | host    | API + hostile suites (tests/run-suite.sh), the cloud suite |
# |                 |       |         | (tests/cloud_test.py), README latency; warm start (default)|
# | cloud_host_cold | cloud | host    | the same with --warm-start 0: the cold path stays covered  |
# | cloud_gvisor    | cloud | gVisor  | as cloud_host, daemon and clients inside one               |
# |                 |       |         | `runsc --network=none do` sandbox, talking over 127.0.0.1 |
# | local_gvisor    | local | gVisor  | refuses to start, naming the cloud build                  |
# The local build on the host kernel is `make test`'s own leg (tests/run-suite.sh
# build/local/pyexecd); it is not repeated here.
#
# The last line printed is `N passed, N failed` over every leg; the exit status is non-zero when
# anything failed. Needs root, build/cloud/pyexecd, build/local/pyexecd, the rootfs and runsc.
#
# Environment (all optional):
#   PYEXECD_MATRIX_LEGS="cloud_host cloud_host_cold cloud_gvisor local_gvisor"   the legs to run
#   PYEXECD_MATRIX_CLOUD_BIN, PYEXECD_MATRIX_LOCAL_BIN           the binaries (default build/*/)
#   PYEXECD_MATRIX_SANDBOX_UID=240000   first slot uid on the host (distinct from run-suite.sh's
#                                        default, so a local-build run elsewhere is not touched)
#   PYEXECD_MATRIX_GVISOR_WALL_MS=15000, PYEXECD_MATRIX_GVISOR_CPU_S=8,
#   PYEXECD_MATRIX_GVISOR_SLACK_S=15    limits for the gVisor leg (pandas imports ~6x slower)
#   PYEXECD_MATRIX_LATENCY_RUNS=20      requests per latency measurement (0: skip)
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
LEGS=${PYEXECD_MATRIX_LEGS:-cloud_host cloud_host_cold cloud_gvisor local_gvisor}
CLOUD_BIN=${PYEXECD_MATRIX_CLOUD_BIN:-$ROOT/build/cloud/pyexecd}
LOCAL_BIN=${PYEXECD_MATRIX_LOCAL_BIN:-$ROOT/build/local/pyexecd}
ROOTFS=${PYEXECD_ROOTFS:-$ROOT/build/rootfs}
SANDBOX_UID=${PYEXECD_MATRIX_SANDBOX_UID:-240000}
RUNS=${PYEXECD_MATRIX_LATENCY_RUNS:-20}
RUNSC=${RUNSC:-runsc}

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

# add_totals LEG FILE: adds the `N passed, N failed` last line of FILE; a missing one fails.
add_totals() {
    local last
    last=$(tail -n 1 "$2")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        PASSED=$((PASSED + BASH_REMATCH[1]))
        FAILED=$((FAILED + BASH_REMATCH[2]))
        echo "# $1: $last"
    else
        fail "$1" "did not finish (last line: $last)"
    fi
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_health PORT PID SECONDS: 0 once GET /health answers 200, 1 if the daemon died or was late.
wait_health() {
    "$PY" - "$@" <<'EOF'
import http.client, os, sys, time
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/health")
        if c.getresponse().status == 200:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
EOF
}

# latency NAME PORT: the README's pandas example, RUNS times, one at a time; prints the median.
latency() {
    local name=$1 port=$2
    [ "$RUNS" -gt 0 ] || return 0
    local script='def main():\n    import pandas as pd\n    print(\"hi\")\n    return {\"rows\": len(pd.DataFrame({\"a\": [1, 2]}))}'
    "$PY" - "$port" "$RUNS" "$script" "$name" <<'EOF'
import http.client, json, statistics, sys, time
port, runs, script, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = '{"script":"%s"}' % script
times, bad = [], 0
for _ in range(runs):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.monotonic()
    c.request("POST", "/execute", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    times.append(time.monotonic() - t)
    c.close()
    if r.status != 200 or json.loads(data) != {"result": {"rows": 2}, "stdout": "hi\n", "stderr": ""}:
        bad += 1
print("# latency %s: README pandas example, %d runs: median %.0f ms (min %.0f, max %.0f)"
      % (name, runs, statistics.median(times) * 1000, min(times) * 1000, max(times) * 1000))
print("PASS" if bad == 0 else "FAIL", "%s_latency_runs_answer_the_readme_result" % name
      + ("" if bad == 0 else ": %d of %d answers differ" % (bad, runs)))
EOF
}

# cloud_suite NAME WARM WALL_MS CPU_S SLACK_S: a cloud daemon (--warm-start WARM) for
# tests/cloud_test.py and the latency runs; it must stop with status 0 and leave no scratch file
# behind.
cloud_suite() {
    local name=$1 warm=$2 wall=$3 cpu=$4 slack=$5 port pid scratch out rc
    port=$(free_port)
    scratch=$(mktemp -d /var/tmp/pyexecd-matrix.XXXXXX)
    out=$(mktemp "/tmp/pyexecd-matrix-$name.XXXXXX")
    (cd "$ROOT" && exec "$CLOUD_BIN" --bind 127.0.0.1 --port "$port" --rootfs "$ROOTFS" \
        --scratch "$scratch/scratch" --sandbox-uid "$SANDBOX_UID" --wall-ms "$wall" \
        --cpu-s "$cpu" --memory-mb 256 --max-sandboxes 2 --warm-start "$warm") >"$out.log" 2>&1 &
    pid=$!
    if ! wait_health "$port" "$pid" 120; then
        fail "${name}_cloud_daemon_starts" "no 200 from /health; log: $(tail -n 5 "$out.log" | tr '\n' ' ')"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -rf "$scratch" "$out" "$out.log"
        return
    fi
    pass "${name}_cloud_daemon_starts"
    shift 5
    timeout -k 10 900 "$PY" "$HERE/cloud_test.py" --url "http://127.0.0.1:$port" --wall-ms "$wall" \
        --cpu-s "$cpu" --max-sandboxes 2 --sandbox-uid "$SANDBOX_UID" --slack-s "$slack" "$@" 2>&1 |
        tee "$out"
    add_totals "${name}_cloud_test" "$out"
    latency "$name" "$port" | tee "$out"
    grep -q '^PASS' "$out" && PASSED=$((PASSED + 1))
    grep -q '^FAIL' "$out" && FAILED=$((FAILED + 1))
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "${name}_cloud_daemon_exits_0"
    else
        fail "${name}_cloud_daemon_exits_0" "status $rc"
    fi
    if [ -z "$(find "$scratch" -mindepth 1 ! -type d 2>/dev/null | head -n 1)" ]; then
        pass "${name}_cloud_daemon_leaves_no_scratch_files"
    else
        fail "${name}_cloud_daemon_leaves_no_scratch_files" "$(find "$scratch" ! -type d | head -n 3)"
    fi
    rm -rf "$scratch" "$out" "$out.log"
}

# The cloud build on this kernel: the shared suites, then the cloud suite. leg_cloud_host NAME WARM
leg_cloud_host() {
    local name=$1 warm=$2 out
    out=$(mktemp /tmp/pyexecd-matrix-suite.XXXXXX)
    echo "## cloud build, host kernel, --warm-start $warm"
    PYEXECD_TEST_SANDBOX_UID=$SANDBOX_UID "$HERE/run-suite.sh" "$CLOUD_BIN" --warm-start "$warm" \
        2>&1 | tee "$out"
    add_totals "${name}_suites" "$out"
    rm -f "$out"
    cloud_suite "$name" "$warm" 5000 3 5
}

# Inside the gVisor sandbox (this script again, as its own inner leg).
leg_cloud_gvisor_inner() {
    local out wall=${PYEXECD_MATRIX_GVISOR_WALL_MS:-15000} cpu=${PYEXECD_MATRIX_GVISOR_CPU_S:-8}
    local slack=${PYEXECD_MATRIX_GVISOR_SLACK_S:-15}
    out=$(mktemp /tmp/pyexecd-matrix-suite.XXXXXX)
    PYEXECD_TEST_WALL_MS=$wall PYEXECD_TEST_CPU_S=$cpu PYEXECD_TEST_SLACK_S=$slack \
        PYEXECD_TEST_REQUEST_MS=${PYEXECD_MATRIX_GVISOR_REQUEST_MS:-10000} PYEXECD_TEST_QUEUE_WAIT_MS=1500 \
        PYEXECD_TEST_SANDBOX_UID=$SANDBOX_UID "$HERE/run-suite.sh" "$CLOUD_BIN" 2>&1 | tee "$out"
    add_totals cloud_gvisor_suites "$out"
    rm -f "$out"
    # Known weakness (README, Known issues): under gVisor the guardian's walk of a /tmp with tens
    # of thousands of entries can take longer than a run; the entry cap is then not reached.
    cloud_suite cloud_gvisor 1 "$wall" "$cpu" "$slack" --skip cloud_too_many_tmp_entries
    echo "$PASSED passed, $FAILED failed"
}

# The daemon and its clients in one gVisor sandbox without network: they meet on its loopback.
leg_cloud_gvisor() {
    local out
    out=$(mktemp /tmp/pyexecd-matrix-gvisor.XXXXXX)
    echo "## cloud build, gVisor ($("$RUNSC" --version 2>&1 | head -n 1))"
    # Through a pipe: gVisor keeps its own offset per donated fd, so a file shared by its stdout
    # and stderr would be overwritten.
    "$RUNSC" --network=none "do" env PYEXECD_MATRIX_INNER=1 bash "$HERE/matrix.sh" 2>&1 | tee "$out"
    add_totals cloud_gvisor "$out"
    rm -f "$out"
}

# The local jail needs namespaces and mounts gVisor does not give: it must say so and stop.
leg_local_gvisor() {
    local out rc port
    out=$(mktemp /tmp/pyexecd-matrix-local.XXXXXX)
    port=$(free_port)
    echo "## local build, gVisor"
    # shellcheck disable=SC2016 # expanded by the inner sh
    timeout -k 5 120 "$RUNSC" --network=none "do" sh -c 'cd "$1" && exec "$2" --bind 127.0.0.1 \
        --port "$3" --rootfs "$4"' - "$ROOT" "$LOCAL_BIN" "$port" "$ROOTFS" 2>&1 | cat >"$out"
    rc=${PIPESTATUS[0]}
    sed 's/^/#   /' "$out"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
        pass local_gvisor_refuses_to_start
    else
        fail local_gvisor_refuses_to_start "exit status $rc"
    fi
    if grep -q 'refusing to start: the local jail needs .*Under gVisor use the cloud build' "$out"; then
        pass local_gvisor_says_why_and_names_the_cloud_build
    else
        fail local_gvisor_says_why_and_names_the_cloud_build "log: $(tr '\n' ' ' <"$out")"
    fi
    rm -f "$out"
}

if [ -n "${PYEXECD_MATRIX_INNER:-}" ]; then
    leg_cloud_gvisor_inner
    [ "$FAILED" -eq 0 ]
    exit
fi

echo "# pyexecd matrix: legs $LEGS; cloud $CLOUD_BIN, local $LOCAL_BIN, rootfs $ROOTFS"
for bin in "$CLOUD_BIN" "$LOCAL_BIN"; do
    [ -x "$bin" ] || fail binaries_exist "$bin is missing (make build/cloud/pyexecd build/local/pyexecd)"
done
command -v "$RUNSC" >/dev/null || fail runsc_exists "$RUNSC not found (apt-get install runsc)"
if [ "$FAILED" -eq 0 ]; then
    start=$SECONDS
    for leg in $LEGS; do
        t0=$SECONDS
        case $leg in
        cloud_host) leg_cloud_host cloud_host 1 ;;
        cloud_host_cold) leg_cloud_host cloud_host_cold 0 ;;
        cloud_gvisor) leg_cloud_gvisor ;;
        local_gvisor) leg_local_gvisor ;;
        *) fail "leg_$leg" "unknown leg" ;;
        esac
        echo "# leg $leg took $((SECONDS - t0)) s"
    done
    echo "# matrix took $((SECONDS - start)) s"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
