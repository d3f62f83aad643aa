#!/usr/bin/env bash
# Runs tests/evhtp/evhtp_test.c, built against the libevhtp pyexecd links, natively and under
# valgrind (memcheck, no suppressions): both runs must pass.
#
#   tests/evhtp/run.sh PATCHED_TEST [UNPATCHED_TEST]
#
# PATCHED_TEST is the test linked with the library patches/evhtp.mk builds with
# patches/libevhtp/; UNPATCHED_TEST, if given, the same test linked with the library built from
# the same source without them: both of its runs must fail (natively the test's own checks, under
# valgrind memcheck errors), which shows that the test detects what the patches fix.
# `make evhtp-check` (part of `make test`) runs the first form, `make test-evhtp` the second.
#
# The last line printed is `N passed, N failed`; the exit status is non-zero when anything failed.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PATCHED_TEST [UNPATCHED_TEST]" >&2
    echo "0 passed, 1 failed"
    exit 2
fi
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)

# run LABEL BINARY [WRAPPER...]: runs BINARY and sets RC. Shows the test's own lines and, from
# valgrind, the first error and the error summary; the whole output stays in BINARY.native.log
# or BINARY.valgrind.log.
run() {
    local label=$1 binary=$2 log
    shift 2
    log=$binary.$([ $# -gt 0 ] && echo valgrind || echo native).log
    echo "# $label: ${*:+$* }$binary"
    "$@" "$binary" >"$log" 2>&1
    RC=$?
    grep -v '^==[0-9]*==' "$log" | sed 's/^/#   /'
    awk '/^==[0-9]+== [A-Z]/ && !/Memcheck|Copyright|Using Valgrind|Command:|HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|For lists|rerun with|in use at exit|total heap usage|All heap blocks/ && !shown {err = 1; shown = 1}
         err && /^==[0-9]+== *$/ {err = 0}
         err && n++ < 14 {print}
         /ERROR SUMMARY/ {print}' "$log" | sed 's/^/#   /'
    echo "# $label: exit status $RC (full output: $log)"
}

patched=$1
if [ ! -x "$patched" ]; then
    fail patched_test_exists "$patched is not an executable file"
else
    run "patched, native" "$patched"
    [ "$RC" -eq 0 ] && pass patched_library_passes_natively ||
        fail patched_library_passes_natively "exit status $RC"
    if ! command -v valgrind >/dev/null; then
        fail patched_library_passes_under_valgrind "valgrind is not installed"
    else
        run "patched, valgrind" "$patched" "${VALGRIND[@]}"
        [ "$RC" -eq 0 ] && pass patched_library_passes_under_valgrind ||
            fail patched_library_passes_under_valgrind \
                "exit status $RC ($([ "$RC" -eq 99 ] && echo "memcheck errors" || echo "test failures"))"
    fi
fi

if [ $# -eq 2 ]; then
    unpatched=$2
    if [ ! -x "$unpatched" ]; then
        fail unpatched_test_exists "$unpatched is not an executable file"
    else
        # Expected to fail: the test's checks natively, memcheck errors (status 99) under valgrind.
        run "unpatched (expected to fail), native" "$unpatched"
        [ "$RC" -eq 1 ] && pass unpatched_library_fails_natively ||
            fail unpatched_library_fails_natively "exit status $RC, want 1 (checks failed)"
        if command -v valgrind >/dev/null; then
            run "unpatched (expected to fail), valgrind" "$unpatched" "${VALGRIND[@]}"
            [ "$RC" -eq 99 ] && pass unpatched_library_fails_under_valgrind ||
                fail unpatched_library_fails_under_valgrind "exit status $RC, want 99 (memcheck errors)"
        else
            fail unpatched_library_fails_under_valgrind "valgrind is not installed"
        fi
    fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
