#!/usr/bin/env bash
# Transactions side by side: MULTI, 5 SETs, EXEC sent as one write by each
# of CONNS connections (relcache-bench tx), against relcache and a stock
# redis-server in one run, each server pinned to one core and the client to
# another. Prints a Markdown table of transactions per second and server CPU
# µs per transaction (utime+stime from /proc/PID/stat over the run).
#
#   scripts/bench-tx.sh
#   CONNS=50 SECS=10 REPS=3 SERVER_CORE=0 CLIENT_CORE=1 scripts/bench-tx.sh
#
# Needs redis-server (Debian: redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
CONNS=${CONNS:-50}
SECS=${SECS:-10}
REPS=${REPS:-3}
SETS=${SETS:-5}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
TICK=$(getconf CLK_TCK)
command -v redis-server >/dev/null || { echo "bench-tx: redis-server not found (Debian: redis-server)" >&2; exit 1; }
make -s build
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 0.3; rm -rf "$tmp"' EXIT

echo "| server | round | transactions/s | CPU µs / transaction |"
echo "|---|---:|---:|---:|"
for rep in $(seq "$REPS"); do
  for which in redis relcache; do
    port=$(free_port)
    start_pinned "$which" "$port" "$tmp" "$SERVER_CORE"
    pids+=("$pid")
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$(taskset -c "$CLIENT_CORE" bin/relcache-bench tx --addr "127.0.0.1:$port" --conns "$CONNS" \
      --sets "$SETS" --duration "${SECS}s")
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    n=${out%% *}
    awk -v w="$which" -v r="$rep" -v n="$n" -v t="$((t1 - t0))" -v hz="$TICK" -v s="$SECS" \
      'BEGIN { printf "| %s | %d | %.0f | %.2f |\n", w, r, n / s, (t / hz) * 1e6 / n }'
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
done
