#!/usr/bin/env bash
# The proxy's L1 (issue 19 item 4): the same Zipf-skewed relation workload
# through `relcache proxy` with [l1] off and on, over the same nodes, in one
# run, each under the io_model named in MODES. relcache-bench capacity loads a power-law graph of USERS users once,
# then runs MIX for DURATION (after WARMUP) through each proxy in turn,
# ROUNDS times, with users drawn from a Zipf distribution (ZIPF, user 0
# hottest). Per mode it prints
# req/s as the bench counts it and the CPU µs per request of the proxy and
# of the nodes (utime+stime from /proc/PID/stat over exactly the recorded
# run: the bench marks its start and end in a file), the proxy's INFO l1,
# and how many of the bench's connections the event loop serves.
#
#   scripts/bench-l1.sh
#   USERS=200000 DURATION=10s OUT=/tmp/l1.md scripts/bench-l1.sh
#
# Knobs (environment):
#   USERS     users in the graph (default 1000000)
#   MEAN      mean follows per user (default 20)
#   ZIPF      Zipf exponent of the users read (default 1.1)
#   MIX       the bench's op=weight mix (default "relmulti=1,relpair=1":
#             RELMULTI key 500 uids and RELCHECK a b)
#   DURATION  recorded run per mode and round (default 20s); WARMUP before
#             it (10s)
#   MODES     the proxies, each "L1:io_model" (default "off:goroutine
#             off:eventloop on:eventloop": the default proxy, then the L1
#             off and on under the event loop)
#   ROUNDS    every mode in turn, this many times (default 3), so that
#             the other load on a shared machine falls on all modes
#   CONNS     client connections (default 32)
#   NODES     relcache nodes behind the proxy (default 2)
#   L1_BYTES  [l1] max_bytes (default 268435456)
#   SERVER_CORES  cores for the proxy and the nodes (default 0)
#   PROXY_CORES, NODE_CORES  cores for the proxies and for the nodes apart
#             (default SERVER_CORES both): on a machine with cores to
#             spare, nodes on fewer cores than the proxy measure the L1
#             where the nodes, not the proxy, bound throughput
#   PROXY_PROCS  the proxies' GOMAXPROCS (default 1)
#   CLIENT_CORES  cores for the bench client (default 1)
#   PROFILE   seconds of CPU profile of the proxy in the L1-on run, printed
#             as pprof -top (default 0: none)
#   OUT       also write the report to this file
#
# Needs redis-cli (Debian: redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

USERS=${USERS:-1000000}
MEAN=${MEAN:-20}
ZIPF=${ZIPF:-1.1}
MIX=${MIX:-relmulti=1,relpair=1}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-10s}
CONNS=${CONNS:-32}
NODES=${NODES:-2}
L1_BYTES=${L1_BYTES:-268435456}
SERVER_CORES=${SERVER_CORES:-0}
PROXY_CORES=${PROXY_CORES:-$SERVER_CORES}
NODE_CORES=${NODE_CORES:-$SERVER_CORES}
PROXY_PROCS=${PROXY_PROCS:-1}
CLIENT_CORES=${CLIENT_CORES:-1}
PROFILE=${PROFILE:-0}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-off:goroutine off:eventloop on:eventloop}
OUT=${OUT:-}

command -v redis-cli >/dev/null || { echo "bench-l1: redis-cli not found; install the Debian package redis-tools" >&2; exit 1; }

make -s build
tmp_dir_cleaned
HZ=$(getconf CLK_TCK)

# l1field PORT NAME: a field of the proxy's INFO l1 (0 when absent).
l1field() { redis-cli -p "$1" info l1 | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}'; }
# node_cmds: total_commands_processed summed over the nodes.
node_cmds() {
  local t=0 a
  for a in "${node_addrs[@]}"; do
    t=$((t + $(redis-cli -p "${a##*:}" info stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" {print $2}')))
  done
  echo "$t"
}

# ticks PID...: utime+stime summed, in clock ticks.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }

node_pids=() node_addrs=() servers=""
for i in $(seq "$NODES"); do
  port=$(free_port)
  GOMAXPROCS=1 taskset -c "$NODE_CORES" bin/relcache serve --addr "127.0.0.1:$port" --admin-addr - \
    --source none --save '' --dir "$(mktemp -d -p "$tmp")" --log-level warn >"$tmp/node$i.log" 2>&1 &
  node_pids+=($!)
  node_addrs+=("127.0.0.1:$port")
  servers+="  \"127.0.0.1:$port:1 node$i\","$'\n'
  wait_port "$port"
done
nodes=$(IFS=,; echo "${node_addrs[*]}")

report() { echo "$*"; [ -n "$OUT" ] && echo "$*" >>"$OUT"; return 0; }
[ -n "$OUT" ] && : >"$OUT"

# One proxy per mode, over the same nodes, all up for the whole run.
declare -A pport padmin ppids
first_on="" # the mode whose INFO l1 and profile are reported
for mode in $MODES; do
  pport[$mode]=$(free_port) padmin[$mode]=$(free_port)
  enabled=false
  if [ "${mode%%:*}" = on ]; then
    enabled=true
    first_on=${first_on:-$mode}
  fi
  cat >"$tmp/proxy-$mode.toml" <<EOF
listen = "127.0.0.1:${pport[$mode]}"
admin = "127.0.0.1:${padmin[$mode]}"
io_model = "${mode#*:}"

[l1]
enabled = $enabled
max_bytes = $L1_BYTES

[[pool]]
name = "dc1"
role = "primary"
servers = [
$servers]
server_connections = 1
EOF
  GOMAXPROCS=$PROXY_PROCS taskset -c "$PROXY_CORES" bin/relcache proxy --config "$tmp/proxy-$mode.toml" >"$tmp/proxy-$mode.log" 2>&1 &
  ppids[$mode]=$!
  wait_port "${pport[$mode]}"
done

bench() { # mode round [flags...]: one capacity run through mode's proxy
  local mode=$1 round=$2
  shift 2
  taskset -c "$CLIENT_CORES" bin/relcache-bench capacity --proxy "127.0.0.1:${pport[$mode]}" --addr "$nodes" \
    --users "$USERS" --mean "$MEAN" --zipf "$ZIPF" --mix "$MIX" --conns "$CONNS" "$@" \
    >"$tmp/bench-$mode-$round.md" 2>"$tmp/bench-$mode-$round.err"
}

# The graph is loaded once, through the first mode's proxy; every
# measured run reuses it.
load_mode=${MODES%% *}
bench "$load_mode" load --duration 1s --warmup 0s || { cat "$tmp/bench-$load_mode-load.err" >&2; exit 1; }

rows=()
for round in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    port=${pport[$mode]} ppid=${ppids[$mode]}
    marks="$tmp/marks-$mode-$round"
    bench "$mode" "$round" --reuse --duration "$DURATION" --warmup "$WARMUP" --marks "$marks" &
    bpid=$!
    until grep -q start "$marks" 2>/dev/null; do
      kill -0 "$bpid" 2>/dev/null || { cat "$tmp/bench-$mode-$round.err" >&2; exit 1; }
      sleep 0.01
    done
    p0=$(ticks "$ppid") n0=$(ticks "${node_pids[@]}")
    h0=$(l1field "$port" l1_hits) c0=$(node_cmds)
    # The bench's connections served by the event loop as the recording
    # starts ("-" under the goroutine model).
    onloop=$(redis-cli -p "$port" info clients | tr -d '\r' | awk -F: '$1 == "loop_clients" {print $2; f=1} END {if (!f) print "-"}')
    if [ "$mode" = "$first_on" ] && [ "$round" = "$ROUNDS" ] && [ "$PROFILE" -gt 0 ]; then
      curl -s -o "$tmp/l1.pprof" "http://127.0.0.1:${padmin[$mode]}/debug/pprof/profile?seconds=$PROFILE" &
    fi
    until grep -q end "$marks" 2>/dev/null; do
      kill -0 "$bpid" 2>/dev/null || break
      sleep 0.01
    done
    p1=$(ticks "$ppid") n1=$(ticks "${node_pids[@]}")
    h1=$(l1field "$port" l1_hits) c1=$(node_cmds)
    wait "$bpid" || { cat "$tmp/bench-$mode-$round.err" >&2; exit 1; }
    md="$tmp/bench-$mode-$round.md"
    # The bench's "| all |" row: | all | command | weight | requests | requests/s | ...
    reqs=$(awk -F'|' '$2 ~ /^ *all *$/ {gsub(/ /, "", $5); print $5; exit}' "$md")
    rps=$(awk -F'|' '$2 ~ /^ *all *$/ {gsub(/ /, "", $6); print $6; exit}' "$md")
    pus=$(awk -v t=$((p1 - p0)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    nus=$(awk -v t=$((n1 - n0)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    hitpct=$(awk -v h=$((h1 - h0)) -v n="$reqs" 'BEGIN {printf "%.0f%%", 100 * h / n}')
    perreq=$(awk -v c=$((c1 - c0)) -v n="$reqs" 'BEGIN {printf "%.2f", c / n}')
    rows+=("| $round | $mode | $rps | $pus | $nus | $(awk -v a="$pus" -v b="$nus" 'BEGIN {printf "%.1f", a + b}') | $hitpct | $perreq | $onloop |")
  done
done
l1=""
[ -n "$first_on" ] && l1=$(redis-cli -p "${pport[$first_on]}" info l1 | tr -d '\r' | grep -E '^l1_' | tr '\n' ' ' || true)

report "bench-l1: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
report "users=$USERS mean=$MEAN zipf=$ZIPF mix=$MIX conns=$CONNS duration=$DURATION warmup=$WARMUP rounds=$ROUNDS nodes=$NODES l1_bytes=$L1_BYTES; proxies on cores $PROXY_CORES (GOMAXPROCS=$PROXY_PROCS), nodes on $NODE_CORES (GOMAXPROCS=1 each), client on $CLIENT_CORES"
report ""
report "| round | L1:io_model | req/s | proxy CPU µs/req | nodes CPU µs/req | proxy+nodes µs/req | answered by the L1 | node commands / req | clients on the loop |"
report "|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do report "$r"; done
report ""
[ -n "$first_on" ] && report "The $first_on proxy's INFO l1 at the end: $l1"
for mode in $MODES; do
  loop=$(redis-cli -p "${pport[$mode]}" info clients | tr -d '\r' | grep -E '^loop_' | tr '\n' ' ' || true)
  [ -n "$loop" ] && report "The $mode proxy's event loop at the end (the bench's connections closed): $loop"
done
for mode in $MODES; do
  report ""
  report "$mode, round $ROUNDS, the bench's run table:"
  report ""
  awk '/^\| op /,/^$/' "$tmp/bench-$mode-$ROUNDS.md" | while IFS= read -r line; do report "$line"; done
done
if [ -s "$tmp/l1.pprof" ]; then
  report ""
  report "Proxy CPU profile, L1 on ($PROFILE s), top 25 by cumulative time:"
  report ""
  report '```'
  go tool pprof -top -cum -nodecount=25 bin/relcache "$tmp/l1.pprof" 2>/dev/null | while IFS= read -r line; do report "$line"; done
  report '```'
fi
