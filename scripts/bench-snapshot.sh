#!/usr/bin/env bash
# Snapshot benchmark: relcache and a stock redis-server holding the same
# relation arrays (relcache as relation sets, Redis as strings of the same
# bytes). `relcache-bench snapshot` loads both and measures BGSAVE and the
# read latency during it; this script then restarts each server on its file
# and times restart-to-serving.
#
#   scripts/bench-snapshot.sh [USERS] [MEAN]     # default 1000000 x 200: ~2 GB of arrays
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
USERS=${1:-1000000}
MEAN=${2:-200}
make -s build
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/redis" "$tmp/relcache"
rport=$(free_port)
cport=$(free_port)
start_redis() { redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp/redis" --loglevel warning & rpid=$!; }
start_relcache() { bin/relcache serve --addr "127.0.0.1:$cport" --admin-addr - --log-level warn --dir "$tmp/relcache" --save "" --source none & cpid=$!; }
wait_serving() { # port: until PING answers PONG (Redis answers LOADING while it loads)
  for _ in $(seq 6000); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return; sleep 0.01; done
  echo "port $1 never served" >&2; exit 1
}
start_redis; start_relcache
wait_serving "$rport"; wait_serving "$cport"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(redis-server --version | cut -d' ' -f3)"
bin/relcache-bench snapshot --addr "127.0.0.1:$cport" --redis-addr "127.0.0.1:$rport" --users "$USERS" --mean "$MEAN"
echo
ls -l "$tmp/redis/dump.rdb" "$tmp/relcache/dump.rcs" | awk '{print $5, $9}'
echo
echo "| server | restart to serving | keys | RSS after load |"
echo "|---|---|---|---|"
for s in redis relcache; do
  port=$rport; pid=$rpid; [ $s = relcache ] && port=$cport && pid=$cpid
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true   # a cold page cache, as after a reboot
  t0=$(date +%s.%N)
  if [ $s = redis ]; then start_redis; else start_relcache; fi
  wait_serving "$port"
  t1=$(date +%s.%N)
  keys=$(redis-cli -p "$port" dbsize)
  rss=$(redis-cli -p "$port" info memory | grep '^used_memory_rss:' | cut -d: -f2 | tr -d '\r')
  echo "| $s | $(echo "$t1 - $t0" | bc) s | $keys | $((rss / 1048576)) MiB |"
done
