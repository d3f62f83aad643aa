#!/usr/bin/env bash
# Latency of the README's curl example: starts BINARY on a free 127.0.0.1 port, sends the example
# N times in a row, prints the median (and min/max) in milliseconds. A measurement, not a test.
#   tests/latency.sh BINARY [N] [extra daemon args...]
set -euo pipefail
binary=${1:?usage: tests/latency.sh BINARY [N] [daemon args...]}
n=${2:-20}
shift $(($# < 2 ? $# : 2))
root=$(cd "$(dirname "$0")/.." && pwd)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp /tmp/pyexecd-latency.XXXXXX)
"$binary" --bind 127.0.0.1 --port "$port" --rootfs "${PYEXECD_ROOTFS:-$root/build/rootfs}" "$@" \
    >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
    curl -sf "127.0.0.1:$port/health" >/dev/null && break
    sleep 0.1
done
body='{"script":"def main():\n    import pandas as pd\n    print(\"hi\")\n    return {\"rows\": len(pd.DataFrame({\"a\": [1, 2]}))}"}'
for _ in $(seq "$n"); do
    curl -s -o /dev/null -w '%{time_total}\n' "127.0.0.1:$port/execute" \
        -H 'Content-Type: application/json' -d "$body"
done | sort -n | awk -v b="$(basename "$binary")" '{ t[NR] = $1 * 1000 }
    END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
          printf "README example, %d runs: median %.0f ms (min %.0f, max %.0f)\n", NR, m, t[1], t[NR] }'
