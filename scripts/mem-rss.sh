#!/usr/bin/env bash
# RSS against used_memory after a relation load (issue 20, item 3): starts
# bin/relcache serve --source none, loads USERS power-law follow lists
# (mean MEAN, follow times) with `relcache-bench capacity` (one SET of a
# client-built openhash array per user), runs a one-second read-only mix so
# nothing replaces a value, and reads INFO memory, INFO gc and the kernel's
# view of the process. Only memory is measured, so it fits a small shared
# machine: 100,000 x 100 (10M relations) takes under a minute.
#
#   scripts/mem-rss.sh [USERS] [MEAN] [serve flags...]
#   GOGC=50 scripts/mem-rss.sh 100000 100            # the collector's knobs pass through
#   scripts/mem-rss.sh 100000 100 --maxmemory 1200mb  # serve then sets GOMEMLIMIT to 1.25x
#   BENCH_FLAGS=--uid-spread scripts/mem-rss.sh       # flags for relcache-bench capacity: ten-digit uids
#   BENCH_FLAGS=--set-format=compact scripts/mem-rss.sh  # arrays in format v3 (rel-set-format compact)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
USERS=${1:-100000}
MEAN=${2:-100}
shift $(($# < 2 ? $# : 2))
make -s build
tmp=$(mktemp -d)
trap '[ -n "${spid:-}" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# The server on core 0, the load generator on core 1, as docs/capacity.md
# runs them (on one core each the memory is the same; the load is faster).
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then echo taskset -c "$1"; fi; }
port=$(free_port)
aport=$(free_port)
# Started directly (not through a function) so that $! is the server itself.
$(pin 0) bin/relcache serve --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$aport" --log-level warn --dir "$tmp" \
  --save "" --source none "$@" &
spid=$!
wait_port "$port"
echo "machine: $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
echo "commit: $(git describe --always --dirty), $(go version | cut -d' ' -f3)"
echo "serve flags: --save \"\" --source none $*; GOGC=${GOGC:-unset (100)} GOMEMLIMIT=${GOMEMLIMIT:-unset}; BENCH_FLAGS=${BENCH_FLAGS:-}"
$(pin 1) bin/relcache-bench capacity --addr "127.0.0.1:$port" --users "$USERS" --mean "$MEAN" \
  --duration 1s --warmup 0 --mix relcheck=1 --conns 1 --out "$tmp/out" ${BENCH_FLAGS:-} >"$tmp/report.md"
info() { redis-cli -p "$port" info "$1" | tr -d '\r' | grep -E "^($2):"; }
reading() {
  info memory 'used_memory|used_memory_rss|go_heap_alloc|go_heap_sys|go_sys'
  info gc 'gc_count|gc_heap_goal_bytes|gc_memory_limit_bytes'
  grep -E '^(Rss|Anonymous|Pss_File)' "/proc/$spid/smaps_rollup" 2>/dev/null || true
  awk -v r="$(info memory used_memory_rss | cut -d: -f2)" -v u="$(info memory used_memory | cut -d: -f2)" \
    -v h="$(info memory go_heap_alloc | cut -d: -f2)" \
    'BEGIN { printf "RSS / used_memory = %.3f; RSS - used_memory = %.1f MiB; go_heap_alloc / used_memory = %.3f\n", r/u, (r-u)/1048576, h/u }'
}
echo "## after the load"
reading
# The heap profile endpoint with gc=1 runs a full collection first: what
# is left in go_heap_alloc is then live, not the load's garbage.
curl -sf -o /dev/null "http://127.0.0.1:$aport/debug/pprof/heap?gc=1"
echo "## after a forced collection (GET /debug/pprof/heap?gc=1)"
reading
python3 - "$tmp/out/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = ("users", "relations", "load_seconds", "rss", "used_memory", "rss_per_relation",
        "used_memory_per_relation", "array_bytes", "array_bytes_per_relation")
print({k: r[k] for k in keys if k in r})
for b in r.get("size_buckets", []):
    print(b)
EOF
