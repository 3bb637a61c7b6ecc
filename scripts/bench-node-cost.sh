#!/usr/bin/env bash
# A node's cost per request (issue 19 item 1): GET and SET at pipeline 1
# and 16, redis-server against relcache in each io-model given, every
# server pinned to SERVER_CORE (relcache with GOMAXPROCS=1) and
# redis-benchmark to CLIENT_CORE, in one run. Each row is one redis-benchmark
# run of N requests: requests/s and server CPU µs per request
# (utime+stime from /proc/PID/stat over the run); then, with SYSCALLS=1, one
# more run of each under `perf stat` counting the server's system calls
# (all of them, and read, write, epoll_wait/epoll_pwait and futex apart),
# per request.
#
#   scripts/bench-node-cost.sh
#   N=200000 C=50 REPS=2 MODES="goroutine eventloop" SYSCALLS=1 scripts/bench-node-cost.sh
#
# MIX=1 is the client mix (session 25, the event loop's hand-back): GETs
# only, from relcache-bench prelude, on connections that each first sent
# the commands of PRELUDE ('|' between them; default CLIENT SETINFO, one
# HGETALL and one INFO, as a client library or a pool's health check
# sends at connect), and at the end each relcache's INFO hand-overs and
# hand-backs. BASE=path/to/relcache adds rows (base-MODE) for another
# relcache binary, e.g. one built from an earlier commit, in the same run.
#
#   MIX=1 BASE=/tmp/relcache-before N=200000 REPS=3 MODES="goroutine eventloop" scripts/bench-node-cost.sh
#
# Needs redis-server, redis-benchmark and redis-cli (Debian: redis-server,
# redis-tools); SYSCALLS=1 needs perf (Debian: linux-perf) allowed to
# trace the server (perf_event_paranoid ≤ 1 or root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-200000}
C=${C:-50}
REPS=${REPS:-2}
MODES=${MODES:-goroutine}
SYSCALLS=${SYSCALLS:-0}
MIX=${MIX:-0}
PRELUDE=${PRELUDE-CLIENT SETINFO lib-name bench|HGETALL h|INFO server}
BASE=${BASE:-}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
TICK=$(getconf CLK_TCK)
for b in redis-server redis-benchmark redis-cli; do
  command -v "$b" >/dev/null || { echo "bench-node-cost: $b not found" >&2; exit 1; }
done
[ "$SYSCALLS" = 1 ] && { command -v perf >/dev/null || { echo "bench-node-cost: perf not found" >&2; exit 1; }; }
make -s build
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 0.3; rm -rf "$tmp"' EXIT

# Start every server once, pinned to the same core, and fill its keys.
names=(redis)
ports=()
port=$(free_port)
start_pinned redis "$port" "$tmp" "$SERVER_CORE"
pids+=("$pid")
ports+=("$port")
bins=("$RELCACHE")
[ -n "$BASE" ] && bins+=("$BASE")
for bin in "${bins[@]}"; do
  for m in $MODES; do
    port=$(free_port)
    # Named even for the default, which is eventloop on Linux since
    # session 25 and was goroutine before.
    RELCACHE=$bin start_pinned relcache "$port" "$tmp" "$SERVER_CORE" --io-model "$m"
    if [ "$bin" = "$BASE" ]; then names+=("base-$m"); else names+=("relcache-$m"); fi
    pids+=("$pid")
    ports+=("$port")
  done
done
for p in "${ports[@]}"; do
  redis-benchmark -p "$p" -t set -n 100000 -r 100000 -d 64 -q >/dev/null
  redis-cli -p "$p" HSET h 1 1 >/dev/null
done

prelude=()
IFS='|' read -r -a cmds <<<"$PRELUDE"
for c in "${cmds[@]}"; do [ -n "$c" ] && prelude+=(--prelude "$c"); done
tests="get set"
[ "$MIX" = 1 ] && tests=get

bench() { # PORT TEST P
  if [ "$MIX" = 1 ]; then
    taskset -c "$CLIENT_CORE" bin/relcache-bench prelude --addr "127.0.0.1:$1" --conns "$C" --requests "$N" \
      --pipeline "$3" --keys 100000 "${prelude[@]}" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p'
    return
  fi
  taskset -c "$CLIENT_CORE" redis-benchmark -p "$1" -t "$2" -n "$N" -c "$C" -P "$3" -r 100000 -d 64 --csv 2>/dev/null |
    tail -n 1 | tr -d '"' | cut -d, -f2
}

echo "| server | test | pipeline | round | requests/s | server CPU µs / request |"
echo "|---|---|---:|---:|---:|---:|"
for P in 1 16; do
  for t in $tests; do
    for rep in $(seq "$REPS"); do
      for i in "${!names[@]}"; do
        t0=$(cpu_ticks "${pids[$i]}")
        rps=$(bench "${ports[$i]}" "$t" "$P")
        t1=$(cpu_ticks "${pids[$i]}")
        awk -v s="${names[$i]}" -v t="$t" -v p="$P" -v r="$rep" -v rps="$rps" -v d="$((t1 - t0))" -v hz="$TICK" -v n="$N" \
          'BEGIN { printf "| %s | %s | %d | %d | %.0f | %.2f |\n", s, toupper(t), p, r, rps, (d / hz) * 1e6 / n }'
      done
    done
  done
done

if [ "$SYSCALLS" = 1 ]; then
  ev=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex
  echo
  echo "| server | test | pipeline | syscalls / request | read | write | epoll_wait + epoll_pwait | futex |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for P in 1 16; do
    for t in get set; do
      for i in "${!names[@]}"; do
        perf stat -x, -e "$ev" -p "${pids[$i]}" -o "$tmp/perf" &
        ppid=$!
        sleep 0.5
        bench "${ports[$i]}" "$t" "$P" >/dev/null
        kill -INT "$ppid"
        wait "$ppid" || true
        awk -F, -v s="${names[$i]}" -v t="$t" -v p="$P" -v n="$N" '
          $3 == "raw_syscalls:sys_enter" { all = $1 }
          $3 == "syscalls:sys_enter_read" { rd = $1 }
          $3 == "syscalls:sys_enter_write" { wr = $1 }
          $3 ~ /epoll/ { ep += $1 }
          $3 == "syscalls:sys_enter_futex" { fx = $1 }
          END { printf "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.3f |\n", s, toupper(t), p, all / n, rd / n, wr / n, ep / n, fx / n }' "$tmp/perf"
      done
    done
  done
fi
if [ "$MIX" = 1 ]; then
  echo
  echo "prelude per connection: ${PRELUDE:-(none)}"
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = redis ] && continue
    redis-cli -p "${ports[$i]}" INFO stats | tr -d '\r' | awk -F: -v s="${names[$i]}" '
      $1 == "total_io_hand_overs" { o = $2 } $1 == "total_io_hand_backs" { b = $2 }
      END { printf "%s: %s hand-overs, %s hand-backs in all\n", s, (o == "" ? "no" : o), (b == "" ? "no" : b) }'
  done
fi
echo
echo "$(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); servers on core $SERVER_CORE (relcache GOMAXPROCS=1), the load ($([ "$MIX" = 1 ] && echo relcache-bench prelude || echo redis-benchmark)) on core $CLIENT_CORE; N=$N C=$C, 64-byte values, -r 100000; load average $(cut -d' ' -f1-3 /proc/loadavg)"
