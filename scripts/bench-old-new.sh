#!/usr/bin/env bash
# Two builds of relcache side by side, in one run, alternating: GET at
# pipeline 1 and 16 against one server, and through `relcache proxy` in
# front of four one-core nodes, driven by memtier_benchmark. Prints a
# Markdown table of req/s and CPU µs per request (utime+stime of the server,
# or of the proxy, from /proc/PID/stat, over the requests of the run).
# Made to check that a change (issue 14's hardening) costs nothing per
# request where it must not.
#
#   OLD=/tmp/relcache-old NEW=bin/relcache scripts/bench-old-new.sh
#
# Knobs (environment), defaults for a 16-core machine:
#   OLD, NEW       the two binaries (required)
#   MEMTIER        memtier_benchmark (default ../shared/peers/memtier_benchmark)
#   SRV_CORES      cores of the server (default 0-7); GOMAXPROCS follows
#   PROXY_CORES    cores of the proxy (default 0-3)
#   NODE_CORES     one core per node behind the proxy (default "4 5 6 7")
#   CLIENT_CORES   cores of memtier (default 8-15)
#   THREADS, CONNS memtier threads and connections per thread (default 8, 25)
#   SECS           seconds per run (default 6)
#   KEYS           keyspace, 64-byte values (default 200000)
#   REPS           rounds of old/new (default 2)
#   OPS            commands measured, GET and/or SET (default GET)
set -euo pipefail
cd "$(dirname "$0")/.."

: "${OLD:?OLD=path of the old binary}" "${NEW:?NEW=path of the new binary}"
MEMTIER=${MEMTIER:-../shared/peers/memtier_benchmark}
SRV_CORES=${SRV_CORES:-0-7}
PROXY_CORES=${PROXY_CORES:-0-3}
NODE_CORES=${NODE_CORES:-4 5 6 7}
CLIENT_CORES=${CLIENT_CORES:-8-15}
THREADS=${THREADS:-8}
CONNS=${CONNS:-25}
SECS=${SECS:-6}
KEYS=${KEYS:-200000}
REPS=${REPS:-2}
OPS=${OPS:-GET}
TICK=$(getconf CLK_TCK)

tmp=$(mktemp -d)
# Every process started is listed in $tmp/pids (serve runs in a subshell,
# so its processes are not this shell's jobs).
cleanup() {
  [ -f "$tmp/pids" ] && kill $(cat "$tmp/pids") 2>/dev/null || true
  sleep 0.5
  rm -rf "$tmp"
}
trap cleanup EXIT

. scripts/lib.sh # cpu_ticks, wait_port, ncores, memtier_fill

# serve BIN CORES PORT: starts a pure-cache node, prints its pid.
serve() {
  local p=$3 d
  d=$(mktemp -d -p "$tmp")
  GOMAXPROCS=$(ncores "$2") taskset -c "$2" "$1" serve --source none --save "" --addr "127.0.0.1:$p" \
    --admin-addr - --dir "$d" --log-level warn >"$d/log" 2>&1 &
  echo $! >>"$tmp/pids"
  echo $!
}

memtier() { # port pipeline ratio seconds -> ops/sec
  taskset -c "$CLIENT_CORES" "$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t "$THREADS" -c "$CONNS" \
    --ratio="$3" --key-pattern=R:R --key-maximum="$KEYS" --data-size=64 --pipeline="$2" \
    --test-time="$4" --hide-histogram 2>/dev/null | awk '$1 == "Totals" {print $2}'
}

# measure NAME PID PORT PIPELINE: one run per command of OPS, one table row each.
measure() {
  local t0 t1 ops op ratio
  for op in $OPS; do
    ratio=0:1
    [ "$op" = SET ] && ratio=1:0
    t0=$(cpu_ticks "$2")
    ops=$(memtier "$3" "$4" "$ratio" "$SECS")
    t1=$(cpu_ticks "$2")
    awk -v n="$1" -v op="$op" -v p="$4" -v ops="$ops" -v t="$((t1 - t0))" -v hz="$TICK" -v s="$SECS" \
      'BEGIN { printf "| %s | %s P%d | %.0f | %.2f |\n", n, op, p, ops, (t / hz) * 1e6 / (ops * s) }'
  done
}

port=7400
echo "| build | test | req/s | CPU µs/request |"
echo "|---|---|---:|---:|"
for rep in $(seq "$REPS"); do
  for which in old new; do
    bin=$OLD
    [ "$which" = new ] && bin=$NEW
    p=$((port += 1))
    pid=$(serve "$bin" "$SRV_CORES" "$p")
    wait_port "$p"
    memtier_fill "$p"
    for pl in 1 16; do
      measure "$which server ($(ncores "$SRV_CORES") cores)" "$pid" "$p" "$pl"
    done
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done

    servers=()
    npids=()
    i=0
    for core in $NODE_CORES; do
      i=$((i + 1))
      np=$((port += 1))
      npid=$(serve "$bin" "$core" "$np")
      npids+=("$npid")
      wait_port "$np"
      servers+=("\"127.0.0.1:$np:1 node$i\"")
    done
    pp=$((port += 1))
    cat >"$tmp/proxy.toml" <<EOF
listen = "127.0.0.1:$pp"
admin = "-"
[[pool]]
name = "dc1"
role = "primary"
servers = [$(IFS=,; echo "${servers[*]}")]
EOF
    GOMAXPROCS=$(ncores "$PROXY_CORES") taskset -c "$PROXY_CORES" "$bin" proxy --config "$tmp/proxy.toml" \
      --log-level warn >"$tmp/proxy.log" 2>&1 &
    ppid=$!
    echo $ppid >>"$tmp/pids"
    wait_port "$pp" || { cat "$tmp/proxy.log" >&2; exit 1; }
    memtier_fill "$pp"
    kill -0 "$ppid" || { cat "$tmp/proxy.log" >&2; exit 1; }
    for pl in 1 16; do
      measure "$which proxy ($(ncores "$PROXY_CORES") cores, 4 nodes)" "$ppid" "$pp" "$pl"
    done
    kill "$ppid" "${npids[@]}"
    for x in "$ppid" "${npids[@]}"; do while kill -0 "$x" 2>/dev/null; do sleep 0.05; done; done
  done
done
