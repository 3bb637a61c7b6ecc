#!/usr/bin/env bash
# Per-request cost of the proxy's front, against nutcracker (twemproxy), in
# one run: 4 relcache nodes, nutcracker and one `relcache proxy` per binary
# given (so a build before a change and one after run side by side), each
# front pinned to FRONT_CPUS, redis-benchmark GET pinned to CLIENT_CPUS.
# Per run it prints req/s, the front's CPU µs per request (utime+stime from
# /proc/PID/stat) and, where perf can read the tracepoints, the front's
# system calls, writes (write and writev), reads and context switches per
# request; last, the four nodes' CPU µs per request, together, and
# memtier's (CLIENT=memtier).
#
#   scripts/bench-proxy-cost.sh                        # bin/relcache
#   scripts/bench-proxy-cost.sh /tmp/before /tmp/after # two builds, one run
#   FRONT_CPUS=0,1 CLIENT_CPUS=0,1 scripts/bench-proxy-cost.sh   # 2 Ps
#   scripts/bench-proxy-cost.sh bin/relcache@goroutine bin/relcache@eventloop
#                               # BINARY@MODEL: that binary with --io-model MODEL
#
# Knobs (environment):
#   PIPES       pipeline depths (default "1 16")
#   N           GETs per run at depth 1; 4*N at deeper ones (default 200000)
#   ROUNDS      rounds over every depth and front (default 2)
#   CLIENTS     redis-benchmark connections (default 50)
#   FRONT_CPUS  taskset CPU list for the fronts (default 0; the proxy's
#               GOMAXPROCS follows it)
#   CLIENT_CPUS taskset CPU list for redis-benchmark (default 1)
#   CLIENT      redis-benchmark (default) or memtier: memtier_benchmark, one
#               thread, CLIENTS connections, random keys among 100000 (the
#               client of scripts/bench-cores.sh, whose traffic gives an
#               event loop fewer ready clients per turn)
#   NODE_CPUS   taskset CPU list for the four nodes (default: unpinned;
#               bench-cores.sh puts them with the client: 1)
#   RATE        CLIENT=memtier only: GETs per second per connection
#               (--rate-limiting), so every front serves the same rate and
#               batches alike per wake-up; default: as fast as it answers
#   SERVER_CONNS the proxy's server_connections (default 1, as nutcracker's;
#               bench-cores.sh's is 2)
#
# Needs redis-benchmark (Debian: redis-tools), nutcracker (Debian:
# nutcracker); perf (Debian: linux-perf) for the system call columns;
# memtier_benchmark (MEMTIER, default ../shared/peers/memtier_benchmark) for
# CLIENT=memtier.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

PIPES=${PIPES:-1 16}
N=${N:-200000}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-50}
FRONT_CPUS=${FRONT_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
CLIENT=${CLIENT:-redis-benchmark}
NODE_CPUS=${NODE_CPUS:-}
SERVER_CONNS=${SERVER_CONNS:-1}
RATE=${RATE:-}
MEMTIER=${MEMTIER:-../shared/peers/memtier_benchmark}
if [ "$CLIENT" = memtier ] && ! [ -x "$MEMTIER" ]; then
  echo "bench-proxy-cost: $MEMTIER not found (MEMTIER=path/to/memtier_benchmark)" >&2
  exit 1
fi
NUTCRACKER=$(command -v nutcracker || echo /usr/sbin/nutcracker)
for tool in redis-benchmark:redis-tools "$NUTCRACKER":nutcracker; do
  command -v "${tool%%:*}" >/dev/null || {
    echo "bench-proxy-cost: ${tool%%:*} not found; install the Debian package ${tool##*:}" >&2
    exit 1
  }
done
perf=1
perf stat -e raw_syscalls:sys_enter -o /dev/null -- true 2>/dev/null || {
  perf=0
  echo "bench-proxy-cost: perf cannot count system calls here (Debian: linux-perf, perf_event_paranoid): those columns are left out" >&2
}
if [ $# -eq 0 ]; then
  make -s build
  set -- bin/relcache
fi

tmp_dir_cleaned

servers='' ncservers='' nodepids=()
for i in 1 2 3 4; do
  p=$(free_port)
  mkdir -p "$tmp/node$i"
  ${NODE_CPUS:+taskset -c "$NODE_CPUS"} bin/relcache serve --addr "127.0.0.1:$p" --admin-addr - --save "" --source none --dir "$tmp/node$i" --log-level warn &
  nodepids+=($!)
  servers+="${servers:+, }\"127.0.0.1:$p:1 node$i\""
  ncservers+="    - 127.0.0.1:$p:1 node$i"$'\n'
  wait_port "$p"
done

np=$(free_port)
nutcracker_yml "$np" "$ncservers" >"$tmp/nutcracker.yml"
taskset -c "$FRONT_CPUS" "$NUTCRACKER" -c "$tmp/nutcracker.yml" -o "$tmp/nutcracker.log" &
targets=("nutcracker|$np|$!")
wait_port "$np"

for arg in "$@"; do
  b=${arg%%@*} model=()
  [[ $arg == *@* ]] && model=(--io-model "${arg#*@}")
  pp=$(free_port)
  cat >"$tmp/proxy$pp.toml" <<EOF
listen = "127.0.0.1:$pp"
admin = "-"
hash = "fnv1a_64"
distribution = "ketama"
route_by = "key"
[[pool]]
name = "dc1"
role = "primary"
servers = [$servers]
server_connections = $SERVER_CONNS
timeout = "1000ms"
EOF
  taskset -c "$FRONT_CPUS" "$b" proxy --config "$tmp/proxy$pp.toml" "${model[@]}" 2>"$tmp/proxy$pp.log" &
  targets+=("$arg|$pp|$!")
  wait_port "$pp"
done

redis-benchmark -p "$np" -c "$CLIENTS" -n 200000 -t set -r 100000 -d 64 -P 16 -q >/dev/null 2>&1
[ "$CLIENT" = memtier ] && "$MEMTIER" -s 127.0.0.1 -p "$np" --protocol=redis -t 1 -c 50 --ratio=1:0 \
  --key-pattern=P:P --key-maximum=100000 --requests=2000 --data-size=64 --pipeline=16 --hide-histogram >/dev/null 2>&1

# get PORT N P prints the GETs per second of one run of the client and,
# for memtier, the seconds of CPU it spent (user + system, from the
# subshell's `times`: its children's).
get() {
  if [ "$CLIENT" = memtier ]; then
    (
      taskset -c "$CLIENT_CPUS" "$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t 1 -c "$CLIENTS" \
        --ratio=0:1 --key-pattern=R:R --key-maximum=100000 --data-size=64 --pipeline="$3" \
        --requests=$(($2 / CLIENTS)) ${RATE:+--rate-limiting="$RATE"} --hide-histogram 2>/dev/null | awk '$1 == "Totals" { printf "%s ", $2 }'
      times >"$tmp/times" # not in a pipeline: a subshell of its own would have no children
      awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }' "$tmp/times"
    )
  else
    taskset -c "$CLIENT_CPUS" redis-benchmark -p "$1" -c "$CLIENTS" -n "$2" -t get -r 100000 -d 64 -P "$3" --csv 2>/dev/null |
      grep '^"GET' | tr -d '"' | cut -d, -f2
  fi
}

echo "# bench-proxy-cost: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# fronts on CPUs $FRONT_CPUS, $CLIENT on $CLIENT_CPUS, nodes on ${NODE_CPUS:-any CPU}; $CLIENTS connections${RATE:+ at $RATE GETs/s each}, 64-byte values, 100000 keys; the proxy's server_connections $SERVER_CONNS"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | pipeline | front | req/s | CPU µs/req | syscalls/req | writes/req | reads/req | epoll waits/req | futex/req | ctx switches/req | nodes CPU µs/req | client CPU µs/req |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  for P in $PIPES; do
    n=$N
    [ "$P" -gt 1 ] && n=$((4 * N))
    for t in "${targets[@]}"; do
      IFS='|' read -r name port pid <<<"$t"
      if [ $perf = 1 ]; then
        perf stat -x, -o "$tmp/perf" -p "$pid" \
          -e raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read \
          -e syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches &
        perfpid=$!
        sleep 0.2
      fi
      c0=$(cpu_ticks "$pid") n0=$(cpu_ticks "${nodepids[@]}")
      read -r rps ccpu < <(get "$port" "$n" "$P")
      c1=$(cpu_ticks "$pid") n1=$(cpu_ticks "${nodepids[@]}")
      sc='' wr='' rd='' ep='' fx='' cs=''
      if [ $perf = 1 ]; then
        kill -INT "$perfpid"
        wait "$perfpid" 2>/dev/null || true
        # per request, summed over the events named (write and writev: nutcracker uses writev)
        ev() { awk -F, -v e="$1" -v n="$n" 'index(" " e " ", " " $3 " ") {s += $1} END {printf "%.3f", s / n}' "$tmp/perf"; }
        sc=$(ev raw_syscalls:sys_enter) rd=$(ev syscalls:sys_enter_read) cs=$(ev context-switches)
        wr=$(ev "syscalls:sys_enter_write syscalls:sys_enter_writev")
        ep=$(ev "syscalls:sys_enter_epoll_wait syscalls:sys_enter_epoll_pwait") fx=$(ev syscalls:sys_enter_futex)
      fi
      awk -v r="$r" -v P="$P" -v name="$name" -v rps="$rps" -v t=$((c1 - c0)) \
        -v hz="$(getconf CLK_TCK)" -v n="$n" -v sc="$sc" -v wr="$wr" -v rd="$rd" -v ep="$ep" -v fx="$fx" -v cs="$cs" -v nt=$((n1 - n0)) -v cc="$ccpu" \
        'BEGIN {printf "| %d | %d | %s | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %.2f | %s |\n", r, P, name, rps, t / hz * 1e6 / n, sc, wr, rd, ep, fx, cs, nt / hz * 1e6 / n, cc == "" ? "" : sprintf("%.2f", cc * 1e6 / n)}'
    done
  done
done
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
