#!/usr/bin/env bash
# Coverage of the fuzzers' corpora: each coverage build (tests/fuzz/fuzz.mk) runs every input of
# BUILD/corpus/NAME (what `make fuzz` grew, if anything) and tests/fuzz/corpus/NAME once, and
# llvm-cov reports the lines, functions and regions of src/ and of libevhtp's parser and core.
#
#   tests/fuzz/coverage.sh BUILD NAME...
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$1
shift
for tool in llvm-profdata llvm-cov; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (Debian package llvm)" >&2; exit 1; }
done
for name in "$@"; do
    bin=$build/cov/$name prof=$build/cov/$name.profraw
    corpora=("$HERE/corpus/$name")
    [ -d "$build/corpus/$name" ] && corpora+=("$build/corpus/$name")
    rm -f "$prof"
    LLVM_PROFILE_FILE=$prof "$bin" -runs=0 "${corpora[@]}" >"$build/cov/$name.log" 2>&1 ||
        { echo "$name: the coverage run failed, see $build/cov/$name.log" >&2; exit 1; }
    llvm-profdata merge -sparse "$prof" -o "$build/cov/$name.profdata"
    echo "== $name ($(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$build/cov/$name.log") inputs): lines, functions, regions covered"
    llvm-cov report "$bin" -instr-profile="$build/cov/$name.profdata" |
        awk '$1 ~ /^src\/.*\.c$|\/(parser|evhtp)\.c$/ {n = split($1, p, "/"); printf "  %-22s %8s %8s %8s\n", (p[n-1] == "src" ? "src/" : "libevhtp/") p[n], $10, $7, $4}'
done
