#!/usr/bin/env bash
# Side-by-side redis-benchmark of relcache and a stock redis-server, started
# the same way on the same machine in the same run. Prints one CSV row per
# (server, pipeline depth, test): rps and latency percentiles in ms.
#
#   scripts/bench-vs-redis.sh [requests] [clients]
#
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-1000000}
C=${2:-50}
make -s build
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

start_redis_and_relcache "$tmp"

echo "server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms"
for P in 1 16; do
  for target in "redis:$rport" "relcache:$cport"; do
    name=${target%%:*}; port=${target##*:}
    redis-benchmark -p "$port" -t set,get -n "$N" -c "$C" -P "$P" -r 100000 --csv 2>/dev/null |
      tail -n +2 | tr -d '"' | sed "s/^/$name,$P,/"
  done
done
