#!/usr/bin/env bash
# The daemon under valgrind (memcheck) through the API suite: no invalid access, no definite
# leak, a clean exit. This leg checks the daemon's own memory safety, not the sandbox limits:
# a sandbox process is a copy of valgrind until it execs Python, and valgrind needs file
# descriptors near the hard NOFILE limit and a large address space, so this daemon keeps the
# host's NOFILE limit and a high memory cap (the other legs test the limits).
set -euo pipefail
binary=${1:?usage: tests/valgrind.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
PYEXECD_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
PYEXECD_TEST_SUITES=api \
    "$here/run-suite.sh" "$binary" --nofile "$(ulimit -Hn)" --memory-mb 65536
