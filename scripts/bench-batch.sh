#!/usr/bin/env bash
# Batch membership per core (issue 19 item 3): RELMULTI of BATCH uids, in
# decimal and packed (BIN), against Redis's HMGET of BATCH fields on a hash
# of LIST fields (hashtable encoding), each server pinned to one core with
# GOMAXPROCS=1 and redis-benchmark pinned to another, in one run. Half the
# probes are members. Prints a Markdown table: requests/s, checks/s and
# server CPU µs per request (utime+stime from /proc/PID/stat over the run),
# and checks per CPU-second, the per-core figure the target compares.
#
#   scripts/bench-batch.sh
#   N=20000 CONNS=8 PIPE=1 REPS=3 SERVER_CORE=0 CLIENT_CORE=1 scripts/bench-batch.sh
#
# The data and the runs are lib.sh's batch_data and batch_round, which
# scripts/bench-cores.sh runs too. Needs redis-server and redis-benchmark
# (Debian: redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-20000}
CONNS=${CONNS:-8}
PIPE=${PIPE:-1}
REPS=${REPS:-3}
LIST=${LIST:-3000}
BATCH=${BATCH:-500}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
for b in redis-server redis-benchmark redis-cli; do
  command -v "$b" >/dev/null || { echo "bench-batch: $b not found" >&2; exit 1; }
done
make -s build
tmp=$(mktemp -d)
SPAWNED=$tmp/pids
trap '[ ! -f "$SPAWNED" ] || kill $(cat "$SPAWNED") 2>/dev/null || true; sleep 0.3; rm -rf "$tmp"' EXIT

batch_data "$tmp" "$LIST" "$BATCH"
echo "| command | round | requests/s | checks/s | server CPU µs / request | checks per CPU-second |"
echo "|---|---:|---:|---:|---:|---:|"
for rep in $(seq "$REPS"); do
  batch_round "$tmp" "$SERVER_CORE" "$CLIENT_CORE" "$N" "$CONNS" "$PIPE" >"$tmp/rows"
  awk -F'\t' -v r="$rep" -v b="$BATCH" \
    '{ printf "| %s | %d | %.0f | %.0f | %.2f | %.0f |\n", $1, r, $2, $2 * b, $5, b / $5 * 1e6 }' "$tmp/rows"
done
echo
echo "$(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); servers on core $SERVER_CORE (relcache GOMAXPROCS=1), redis-benchmark on core $CLIENT_CORE; N=$N CONNS=$CONNS PIPE=$PIPE LIST=$LIST BATCH=$BATCH"
