#!/usr/bin/env bash
# The proxy's L1 at its best case, beside scripts/bench-l1.sh's Zipf
# workload: redis-benchmark sending `RELCHECK a b` pipelined (P, default 16)
# over USERS users (default 1000) whose following lists all fit in the L1,
# through a proxy per MODES (each "L1:io_model"; default "off:goroutine
# off:eventloop on:eventloop") over the same two nodes, in turn for ROUNDS
# rounds. Proxy and nodes on core 0 (GOMAXPROCS=1 each),
# redis-benchmark on core 1. Prints req/s as redis-benchmark reports it and
# CPU µs per request of the proxy and the nodes (utime+stime from
# /proc/PID/stat around the measured run; a warm-up run of N/20 first).
#
#   scripts/bench-l1-p16.sh
#   P=1 N=100000 scripts/bench-l1-p16.sh
#   SYSCALLS=1 P=1 N=100000 scripts/bench-l1-p16.sh
#
# SYSCALLS=1 adds, after the rounds, one more run per mode under `perf
# stat` counting the proxy's system calls (read, write, epoll, futex) and
# context switches per request: counts, which a shared machine's load
# does not move as it moves CPU time.
#
# Needs redis-benchmark (Debian: redis-tools) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

P=${P:-16}
N=${N:-400000}
USERS=${USERS:-1000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
MODES=${MODES:-off:goroutine off:eventloop on:eventloop}
SYSCALLS=${SYSCALLS:-0}
OUT=${OUT:-}

command -v redis-benchmark >/dev/null || { echo "bench-l1-p16: redis-benchmark not found; install the Debian package redis-tools" >&2; exit 1; }

make -s build
tmp_dir_cleaned
HZ=$(getconf CLK_TCK)
report() { echo "$*"; [ -n "$OUT" ] && echo "$*" >>"$OUT"; return 0; }
[ -n "$OUT" ] && : >"$OUT"

servers="" node_pids=()
for i in 1 2; do
  port=$(free_port)
  GOMAXPROCS=1 taskset -c 0 bin/relcache serve --addr "127.0.0.1:$port" --admin-addr - --source none --save '' \
    --dir "$(mktemp -d -p "$tmp")" --log-level warn >/dev/null 2>&1 &
  node_pids+=($!)
  servers+="  \"127.0.0.1:$port:1 node$i\","$'\n'
  wait_port "$port"
done
declare -A pport ppid
first_on=""
for mode in $MODES; do
  pport[$mode]=$(free_port)
  enabled=false
  if [ "${mode%%:*}" = on ]; then
    enabled=true
    first_on=${first_on:-$mode}
  fi
  printf 'listen = "127.0.0.1:%s"\nadmin = "-"\nio_model = "%s"\n\n[l1]\nenabled = %s\n\n[[pool]]\nname = "dc1"\nrole = "primary"\nservers = [\n%s]\nserver_connections = 1\n' \
    "${pport[$mode]}" "${mode#*:}" "$enabled" "$servers" >"$tmp/proxy-$mode.toml"
  GOMAXPROCS=1 taskset -c 0 bin/relcache proxy --config "$tmp/proxy-$mode.toml" >"$tmp/proxy-$mode.log" 2>&1 &
  ppid[$mode]=$!
  wait_port "${pport[$mode]}"
done

# uid's following list: about 20 of the users, loaded through the proxy.
python3 - "${pport[${MODES%% *}]}" "$USERS" <<'EOF'
import random, socket, sys
port, users = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
rnd = random.Random(1)
out = []
for uid in range(users):
    args = ["RELLOAD", "%d.following" % uid] + [str(m) for m in sorted(set(rnd.randrange(users) for _ in range(20)) - {uid})]
    out.append(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args))
s.sendall(b"".join(out))
for _ in range(users):
    line = f.readline()
    if not line.startswith(b":"):
        sys.exit("load: %r" % line)
EOF

ticks() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
bench() { # port n [-q]
  taskset -c 1 redis-benchmark -p "$1" -c "$CLIENTS" -n "$2" -P "$P" -r "$USERS" -q RELCHECK __rand_int__ __rand_int__ 2>/dev/null |
    tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
rows=()
for round in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    bench "${pport[$mode]}" $((N / 20)) >/dev/null
    p0=$(ticks "${ppid[$mode]}") n0=$(ticks "${node_pids[@]}")
    rps=$(bench "${pport[$mode]}" "$N")
    p1=$(ticks "${ppid[$mode]}") n1=$(ticks "${node_pids[@]}")
    pus=$(awk -v t=$((p1 - p0)) -v hz="$HZ" -v n="$N" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    nus=$(awk -v t=$((n1 - n0)) -v hz="$HZ" -v n="$N" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    rows+=("| $round | $mode | $rps | $pus | $nus | $(awk -v a="$pus" -v b="$nus" 'BEGIN {printf "%.2f", a + b}') |")
  done
done
l1=""
[ -n "$first_on" ] && l1=$(redis-cli -p "${pport[$first_on]}" info l1 | tr -d '\r' | grep -E '^l1_(hits|misses|entries)' | tr '\n' ' ' || true)

report "bench-l1-p16: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty), $(nproc) cores"
report "RELCHECK a b, -P $P, -c $CLIENTS, -n $N, -r $USERS users; proxy and 2 nodes on core 0 (GOMAXPROCS=1 each), redis-benchmark on core 1"
report ""
report "| round | L1:io_model | req/s | proxy CPU µs/req | nodes CPU µs/req | proxy+nodes µs/req |"
report "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do report "$r"; done
report ""
if [ "$SYSCALLS" = 1 ]; then
  ev=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches
  srows=()
  for mode in $MODES; do
    perf stat -x, -e "$ev" -p "${ppid[$mode]}" -o "$tmp/perf" &
    perfpid=$!
    sleep 0.5
    bench "${pport[$mode]}" "$N" >/dev/null
    kill -INT "$perfpid"
    wait "$perfpid" || true
    srows+=("$(awk -F, -v m="$mode" -v n="$N" '
      $3 == "raw_syscalls:sys_enter" { all = $1 }
      $3 == "syscalls:sys_enter_read" { rd = $1 }
      $3 == "syscalls:sys_enter_write" { wr = $1 }
      $3 ~ /epoll/ { ep += $1 }
      $3 == "syscalls:sys_enter_futex" { fx = $1 }
      $3 == "context-switches" { cs = $1 }
      END { printf "| %s | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f |", m, all / n, rd / n, wr / n, ep / n, fx / n, cs / n }' "$tmp/perf")")
  done
fi
[ -n "$first_on" ] && report "The $first_on proxy's INFO l1 at the end: $l1"
for mode in $MODES; do
  loop=$(redis-cli -p "${pport[$mode]}" info clients | tr -d '\r' | grep -E '^loop_' | tr '\n' ' ' || true)
  [ -n "$loop" ] && report "The $mode proxy's event loop at the end: $loop"
done
if [ "$SYSCALLS" = 1 ]; then
  report ""
  report "The proxy's system calls and context switches per request (perf stat, one more run of N per mode):"
  report ""
  report "| L1:io_model | syscalls / req | read | write | epoll_wait + epoll_pwait | futex | context switches / req |"
  report "|---|---:|---:|---:|---:|---:|---:|"
  for r in "${srows[@]}"; do report "$r"; done
fi
