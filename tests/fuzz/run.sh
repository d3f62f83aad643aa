#!/usr/bin/env bash
# Runs the libFuzzer harnesses (tests/fuzz/fuzz.mk builds them).
#
#   tests/fuzz/run.sh check SECONDS BUILD NAME...   each seed corpus once, then SECONDS of fuzzing
#                                                  from it in a scratch corpus (make fuzz-check)
#   tests/fuzz/run.sh fuzz SECONDS BUILD NAME...    SECONDS each, growing BUILD/corpus/NAME
#                                                  (make fuzz)
#
# Seeds are tests/fuzz/corpus/NAME. A crash, leak or sanitizer report fails the harness and
# leaves its input in BUILD/artifacts. For each run: executions, coverage (libFuzzer's cov: edges,
# ft: features) and corpus size. The last line is `N passed, N failed`.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 4 ] || { echo "usage: $0 check|fuzz SECONDS BUILD NAME..." >&2; echo "0 passed, 1 failed"; exit 2; }
mode=$1 seconds=$2 build=$3
shift 3
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1${2:+: $2}"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }
mkdir -p "$build/artifacts" "$build/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# stats LOG: "N execs (N/s), cov N, ft N, corpus N" from libFuzzer's output.
stats() {
    local execs rate last
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -1)
    last=$(grep -E '^#[0-9]+' "$1" | tail -1)
    echo "${execs:-?} execs (${rate:-?}/s), cov $(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')," \
        "ft $(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')," \
        "corpus $(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')"
}

for name in "$@"; do
    bin=$build/$name seeds=$HERE/corpus/$name log=$build/logs/$name.$mode.log
    [ -x "$bin" ] || { fail "$name" "$bin is not built"; continue; }
    [ -d "$seeds" ] || { fail "$name" "no seed corpus $seeds"; continue; }
    opts=(-artifact_prefix="$build/artifacts/$name-" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
    if [ "$mode" = check ]; then
        if "$bin" "${opts[@]}" -runs=0 "$seeds" >"$log" 2>&1; then
            pass "${name}_seed_corpus" "$(ls "$seeds" | wc -l) inputs"
        else
            fail "${name}_seed_corpus" "see $log: $(grep -m1 -E 'ERROR|runtime error|deadly' "$log")"
            continue
        fi
        work=$(mktemp -d "$build/check-$name.XXXXXX")
    else
        work=$build/corpus/$name
        mkdir -p "$work"
    fi
    log=$build/logs/$name.$mode-run.log
    if nice -n 10 "$bin" "${opts[@]}" -max_total_time="$seconds" "$work" "$seeds" >"$log" 2>&1; then
        pass "${name}_${seconds}s" "$(stats "$log")"
    else
        fail "${name}_${seconds}s" "see $log: $(grep -m1 -E 'ERROR|runtime error|deadly' "$log")"
    fi
    [ "$mode" = check ] && rm -rf "$work"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
