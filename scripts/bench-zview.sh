#!/usr/bin/env bash
# The sorted-set view against Redis's sorted sets: the same 5000 members and
# scores (uids and follow times, some scores shared) in one key of each
# server, then redis-benchmark of ZREVRANGE key 0 99 (the first page of a
# newest-first list) and ZSCORE key member on both, in the same run. Prints
# one CSV row per (server, pipeline depth, test).
#
#   scripts/bench-zview.sh [requests] [clients]
#
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-200000}
C=${2:-8}
make -s build
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

start_redis_and_relcache "$tmp"

# 5000 members in 10 ZADDs of 500, the same bytes to both servers.
key=1000000001.follower
awk -v key="$key" 'BEGIN {
  srand(17)
  for (b = 0; b < 10; b++) {
    line = "ZADD " key
    for (i = 0; i < 500; i++) {
      line = line " " int(1700000000 + rand() * 100000) " " int(1000000000 + rand() * 2000000000)
    }
    print line
  }
}' >"$tmp/load.txt"
member=$(awk 'NR == 1 { print $4 }' "$tmp/load.txt")
for p in "$rport" "$cport"; do
  redis-cli -p "$p" <"$tmp/load.txt" >/dev/null
  echo "# port $p: ZCARD $(redis-cli -p "$p" zcard "$key"), first page same as Redis: $(redis-cli -p "$p" zrevrange "$key" 0 99 withscores | md5sum | cut -c1-8)" >&2
done

echo "server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms"
for P in 1 16; do
  for target in "redis:$rport" "relcache:$cport"; do
    name=${target%%:*}; port=${target##*:}
    for t in "ZREVRANGE $key 0 99" "ZSCORE $key $member"; do
      # shellcheck disable=SC2086
      redis-benchmark -p "$port" -n "$N" -c "$C" -P "$P" --csv $t 2>/dev/null |
        tail -n +2 | tr -d '"' | sed "s/^[^,]*,/$name,$P,${t%% *},/"
    done
  done
done
