#!/usr/bin/env bash
# Start-up: settings on the command line, and refusal with a clear message naming the failed
# step when the jail cannot be built (here: a rootfs that lacks what the jail mounts onto).
#   tests/startup_test.sh BINARY
set -u
binary=${1:?usage: tests/startup_test.sh BINARY}
passed=0 failed=0
work=$(mktemp -d /tmp/pyexecd-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT

ok() { echo "PASS $1"; passed=$((passed + 1)); }
ko() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# expect_refusal NAME PATTERN ARGS...: the daemon must exit non-zero within 30 s, saying PATTERN.
expect_refusal() {
    local name=$1 pattern=$2 rc
    shift 2
    timeout 30 "$binary" --port 1 --bind 127.0.0.1 "$@" >"$work/$name.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        ko "$name" "expected a refusal, got exit status $rc"
    elif ! grep -Eq "$pattern" "$work/$name.log"; then
        ko "$name" "the message does not say '$pattern': $(tail -n 3 "$work/$name.log" | tr '\n' ' ')"
    else
        ok "$name"
    fi
}

if "$binary" --help >"$work/help" 2>&1 && grep -q -- '--wall-ms' "$work/help" &&
    grep -q 'PYEXECD_MEMORY_MB' "$work/help"; then
    ok help_lists_the_settings
else
    ko help_lists_the_settings "$(head -c 300 "$work/help")"
fi
expect_refusal unknown_flag_is_refused "unknown setting '--no-such-flag'" --no-such-flag 1
expect_refusal bad_number_is_refused "wall-ms=ten is not a whole number" --wall-ms ten
expect_refusal missing_rootfs_is_refused "rootfs $work/none: No such file" --rootfs "$work/none"
mkdir -p "$work/empty"
expect_refusal broken_rootfs_names_the_failed_step \
    "sandbox set-up failed: (zygote: )?[a-z /]+: No such file or directory" --rootfs "$work/empty"
if grep -q "self-test failed" "$work/broken_rootfs_names_the_failed_step.log" &&
    grep -q "refusing to start: the jail could not run a script; " \
        "$work/broken_rootfs_names_the_failed_step.log"; then
    ok broken_rootfs_fails_the_self_test_and_says_what_to_do
else
    ko broken_rootfs_fails_the_self_test_and_says_what_to_do "no self-test refusal with a hint"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
