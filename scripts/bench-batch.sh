#!/usr/bin/env bash
# Batch membership per core (issue 19 item 3): RELMULTI of BATCH uids, in
# decimal and packed (BIN), against Redis's HMGET of BATCH fields on a hash
# of LIST fields (hashtable encoding), each server pinned to one core with
# GOMAXPROCS=1 and redis-benchmark pinned to another, in one run. Half the
# probes are members. Prints a Markdown table: requests/s, checks/s and
# server CPU µs per request (utime+stime from /proc/PID/stat over the run),
# and checks per CPU-second, the per-core figure the target compares.
#
#   scripts/bench-batch.sh
#   N=20000 CONNS=8 PIPE=1 REPS=3 SERVER_CORE=0 CLIENT_CORE=1 scripts/bench-batch.sh
#
# The packed uids are chosen so that every byte of their little-endian
# form is an ASCII letter: redis-benchmark takes its arguments from argv,
# which cannot carry NUL bytes. Needs redis-server and redis-benchmark
# (Debian: redis-server, redis-tools) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-20000}
CONNS=${CONNS:-8}
PIPE=${PIPE:-1}
REPS=${REPS:-3}
LIST=${LIST:-3000}
BATCH=${BATCH:-500}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
TICK=$(getconf CLK_TCK)
for b in redis-server redis-benchmark python3; do
  command -v "$b" >/dev/null || { echo "bench-batch: $b not found" >&2; exit 1; }
done
make -s build
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 0.3; rm -rf "$tmp"' EXIT

# members: LIST uids; probe: BATCH uids, every other one a member; the
# packed probe as one string of letters.
python3 - "$LIST" "$BATCH" "$tmp" <<'EOF'
import random, struct, sys
n, b, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(19)
letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def uid():
    return struct.unpack("<Q", bytes(rng.choice(letters) for _ in range(8)))[0]
members = [uid() for _ in range(n)]
others = [uid() for _ in range(b)]
probe = [members[i] if i % 2 == 0 else others[i] for i in range(b)]
open(d + "/members", "w").write("\n".join(map(str, members)) + "\n")
open(d + "/probe", "w").write("\n".join(map(str, probe)) + "\n")
open(d + "/packed", "wb").write(b"".join(struct.pack("<Q", u) for u in probe))
EOF
mapfile -t members <"$tmp/members"
mapfile -t probe <"$tmp/probe"
packed=$(cat "$tmp/packed")
hset=(HSET u.following)
for m in "${members[@]}"; do hset+=("$m" 1700000000); done

# run NAME PID PORT CMD... : one redis-benchmark run; prints a table row.
run() {
  local name=$1 pid=$2 port=$3 out t0 t1 rps
  shift 3
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c "$CLIENT_CORE" redis-benchmark -p "$port" -n "$N" -c "$CONNS" -P "$PIPE" --csv "$@" 2>/dev/null | tail -n 1)
  t1=$(cpu_ticks "$pid")
  rps=$(echo "$out" | tr -d '"' | cut -d, -f2)
  awk -v w="$name" -v r="$rep" -v rps="$rps" -v t="$((t1 - t0))" -v hz="$TICK" -v n="$N" -v b="$BATCH" \
    'BEGIN { cpu = (t / hz) * 1e6 / n; printf "| %s | %d | %.0f | %.0f | %.2f | %.0f |\n", w, r, rps, rps * b, cpu, b / cpu * 1e6 }'
}

echo "| command | round | requests/s | checks/s | server CPU µs / request | checks per CPU-second |"
echo "|---|---:|---:|---:|---:|---:|"
for rep in $(seq "$REPS"); do
  for which in redis relcache; do
    port=$(free_port)
    start_pinned "$which" "$port" "$tmp" "$SERVER_CORE"
    pids+=("$pid")
    if [ "$which" = redis ]; then
      redis-cli -p "$port" "${hset[@]}" >/dev/null
      enc=$(redis-cli -p "$port" OBJECT ENCODING u.following)
      run "HMGET u.following $BATCH fields (Redis, $enc)" "$pid" "$port" HMGET u.following "${probe[@]}"
    else
      redis-cli -p "$port" RELLOAD u.following "${members[@]}" >/dev/null
      run "RELMULTI u.following $BATCH uids (relcache, decimal)" "$pid" "$port" RELMULTI u.following "${probe[@]}"
      run "RELMULTI u.following BIN <$BATCH packed> (relcache)" "$pid" "$port" RELMULTI u.following BIN "$packed"
      run "RELMULTI u.following BITS BIN <$BATCH packed> (relcache, a bitmap reply)" "$pid" "$port" RELMULTI u.following BITS BIN "$packed"
    fi
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
done
echo
echo "$(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); servers on core $SERVER_CORE (relcache GOMAXPROCS=1), redis-benchmark on core $CLIENT_CORE; N=$N CONNS=$CONNS PIPE=$PIPE LIST=$LIST BATCH=$BATCH"
