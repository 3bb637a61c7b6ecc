#!/usr/bin/env bash
# The proxy's CPU per relation batch of BATCH decimal uids (issue 19 item
# 3), one relcache proxy per binary given (a build before a change and one
# after, side by side) and nutcracker as the reference, in one run. Two
# relcache nodes (the last binary given, or NODE_BIN; GOMAXPROCS=1) behind
# every front; the fronts pinned to FRONT_CORE (the proxies GOMAXPROCS=1),
# the nodes and redis-benchmark to CLIENT_CORE. Per round and front it prints req/s and
# the front's CPU µs per request (utime+stime from /proc/PID/stat over the
# requests) for:
#   nutcracker  HMGET 1.following <BATCH uids>       forwarded to one node
#   proxy       RELMULTI 1.following <BATCH uids>    forwarded to one node
#   proxy       RELCHECK 1 BATCH <BATCH uids>        split over both nodes
#   proxy       RELMULTI 1.following BIN <packed>    forwarded, packed
# Half the probes are members of 1.following (lib.sh's batch_data).
#
#   scripts/bench-proxy-batch.sh                            # bin/relcache
#   scripts/bench-proxy-batch.sh /tmp/before /tmp/after     # one run
#   N=20000 CONNS=8 PIPE=1 ROUNDS=3 FRONT_CORE=0 CLIENT_CORE=1 scripts/bench-proxy-batch.sh
#
# Needs redis-benchmark and redis-cli (Debian: redis-tools) and nutcracker
# (Debian: nutcracker).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-20000}
CONNS=${CONNS:-8}
PIPE=${PIPE:-1}
ROUNDS=${ROUNDS:-3}
LIST=${LIST:-3000}
BATCH=${BATCH:-500}
FRONT_CORE=${FRONT_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
NUTCRACKER=$(command -v nutcracker || echo /usr/sbin/nutcracker)
for tool in "$REDIS_BENCHMARK":redis-tools "$REDIS_CLI":redis-tools "$NUTCRACKER":nutcracker; do
  command -v "${tool%%:*}" >/dev/null || {
    echo "bench-proxy-batch: ${tool%%:*} not found; install the Debian package ${tool##*:}" >&2
    exit 1
  }
done
if [ $# -eq 0 ]; then
  make -s build
  set -- bin/relcache
fi
RELCACHE=${NODE_BIN:-${!#}} # the nodes: the last binary given, unless NODE_BIN is set
tmp_dir_cleaned

batch_data "$tmp" "$LIST" "$BATCH"
mapfile -t members <"$tmp/members"
mapfile -t probe <"$tmp/probe"
packed=$(cat "$tmp/packed")

servers='' ncservers='' nodeports=()
for i in 1 2; do
  alloc_port
  start_pinned relcache "$port" "$tmp" "$CLIENT_CORE"
  nodeports+=("$port")
  servers+="${servers:+, }\"127.0.0.1:$port:1 node$i\""
  ncservers+="    - 127.0.0.1:$port:1 node$i"$'\n'
done

alloc_port
nutcracker_yml "$port" "$ncservers" >"$tmp/nutcracker.yml"
spawn "$FRONT_CORE" "$NUTCRACKER" -c "$tmp/nutcracker.yml" -o "$tmp/nutcracker.log"
fronts=("nutcracker|$port|$pid")
wait_port "$port"

for b in "$@"; do
  alloc_port
  cat >"$tmp/proxy$port.toml" <<TOML
listen = "127.0.0.1:$port"
admin = "-"
hash = "fnv1a_64"
distribution = "ketama"
[[pool]]
name = "dc1"
role = "primary"
servers = [$servers]
timeout = "1000ms"
TOML
  spawn "$FRONT_CORE" env GOMAXPROCS=1 "$b" proxy --config "$tmp/proxy$port.toml" --log-level warn 2>"$tmp/proxy$port.log"
  fronts+=("$b|$port|$pid")
  wait_port "$port"
done

# The list on both nodes (nutcracker places 1.following by the whole key,
# the proxy by uid 1); then every front must see half the probes as
# members.
for port in "${nodeports[@]}"; do
  "$REDIS_CLI" -p "$port" RELLOAD 1.following "${members[@]}" >/dev/null
done
half=$(((${#probe[@]} + 1) / 2))
for f in "${fronts[@]}"; do
  IFS='|' read -r name port _ <<<"$f"
  if [ "$name" = nutcracker ]; then
    got=$("$REDIS_CLI" -p "$port" HMGET 1.following "${probe[@]}" | grep -vc '^$' || true)
  else
    got=$("$REDIS_CLI" -p "$port" RELMULTI 1.following "${probe[@]}" | grep -c '^1$' || true)
    codes=$("$REDIS_CLI" -p "$port" RELCHECK 1 BATCH "${probe[@]}" | grep -c '^-\?[0-9]$' || true)
    [ "$codes" = "${#probe[@]}" ] || { echo "bench-proxy-batch: $name answers RELCHECK with $codes codes, not ${#probe[@]}" >&2; exit 1; }
  fi
  [ "$got" = "$half" ] || { echo "bench-proxy-batch: $name finds $got of the probes, not $half" >&2; exit 1; }
done

# measure PID PORT: runs redis-benchmark with the rest of the arguments and
# prints req/s and the front's CPU µs per request.
measure() {
  local pid=$1 port=$2 t0 t1 csv rps
  shift 2
  t0=$(cpu_ticks "$pid")
  csv=$(on_cores "$CLIENT_CORE" "$REDIS_BENCHMARK" -p "$port" -n "$N" -c "$CONNS" -P "$PIPE" --csv "$@" 2>/dev/null | tail -n 1 | tr -d '"')
  t1=$(cpu_ticks "$pid")
  IFS=, read -r _ rps _ <<<"$csv"
  awk -v rps="$rps" -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$N" \
    'BEGIN { printf "%.0f | %.2f", rps, (t / hz) * 1e6 / n }'
}

echo "# bench-proxy-batch: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# fronts on core $FRONT_CORE (proxies GOMAXPROCS=1), nodes ($RELCACHE, GOMAXPROCS=1) and redis-benchmark on core $CLIENT_CORE; N=$N CONNS=$CONNS PIPE=$PIPE BATCH=$BATCH"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | front | command | req/s | front CPU µs / request |"
echo "|---:|---|---|---:|---:|"
for r in $(seq "$ROUNDS"); do
  for f in "${fronts[@]}"; do
    IFS='|' read -r name port pid <<<"$f"
    if [ "$name" = nutcracker ]; then
      echo "| $r | nutcracker | HMGET 1.following $BATCH fields | $(measure "$pid" "$port" HMGET 1.following "${probe[@]}") |"
      continue
    fi
    echo "| $r | $name | RELMULTI 1.following $BATCH uids | $(measure "$pid" "$port" RELMULTI 1.following "${probe[@]}") |"
    echo "| $r | $name | RELCHECK 1 BATCH $BATCH uids | $(measure "$pid" "$port" RELCHECK 1 BATCH "${probe[@]}") |"
    echo "| $r | $name | RELMULTI 1.following BIN <$BATCH packed> | $(measure "$pid" "$port" RELMULTI 1.following BIN "$packed") |"
  done
done
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
