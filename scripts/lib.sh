# Shared by the benchmark scripts: source it after cd to the repo root.

# The approved Go toolchain (the Makefile says why).
export GOTOOLCHAIN=go1.27.3

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now (the
# kernel's pick, through python3; without python3, a free one from
# alloc_port's range).
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    local port PORT_NEXT=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    alloc_port
    echo "$port"
  fi
}

# group N prints N rounded, its digits grouped: 1234567.8 -> 1,234,568.
group() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

# alloc_port sets port to the next port from PORT_NEXT on that nothing
# listens on, and moves PORT_NEXT past it: unlike free_port, calls in one
# shell never hand out a port twice, and it needs bash alone. The range
# stays below Linux's ephemeral ports (32768 on), which outgoing
# connections take.
PORT_NEXT=${PORT_NEXT:-$((20000 + $$ % 10000))}
alloc_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT_NEXT") 2>/dev/null; do PORT_NEXT=$((PORT_NEXT + 1)); done
  port=$PORT_NEXT
  PORT_NEXT=$((PORT_NEXT + 1))
}

# cpu_ticks PID... prints the processes' utime+stime summed, in clock ticks
# (getconf CLK_TCK). The fields are counted after the ")" that ends the
# command name, which may hold spaces.
cpu_ticks() {
  local t=0 pid f
  for pid in "$@"; do
    read -ra f < <(sed 's/^.*) //' "/proc/$pid/stat") # fields from 3 (state) on
    t=$((t + f[11] + f[12]))                            # 14 utime, 15 stime
  done
  echo "$t"
}

# wait_port PORT waits up to 10s for something to listen on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  return 1
}

# start_redis_and_relcache DIR starts a stock redis-server and bin/relcache
# the same way (no persistence, no source), in the background, with DIR as
# their directory, and sets rport and cport to their ports once both answer.
start_redis_and_relcache() {
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$1" --loglevel warning &
  cport=$(free_port)
  bin/relcache serve --addr "127.0.0.1:$cport" --admin-addr - --log-level warn --dir "$1" --save "" --source none &
  for p in "$rport" "$cport"; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
}

# The binaries the helpers below start; a script may point them elsewhere
# (find_bin) before it calls them.
RELCACHE=${RELCACHE:-bin/relcache}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
MEMTIER=${MEMTIER:-memtier_benchmark}

# --- finding binaries --------------------------------------------------------
# The prebuilt peers (Valkey, predixy, memtier_benchmark: their README says
# how they were built) sit beside the main checkout; a worktree under
# /work/wt sees them one folder further up.
PEERS=${PEERS:-../shared/peers}
[ -d "$PEERS" ] || [ ! -d ../../shared/peers ] || PEERS=../../shared/peers

# where NAME prints the path of NAME: from BIN_DIR (a bundle that
# scripts/bench-bundle.sh made), bin/, PATH, /usr/sbin (nutcracker), PEERS.
where() {
  local d
  for d in ${BIN_DIR:+"$BIN_DIR"} bin; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done
  command -v "$1" 2>/dev/null && return
  for d in /usr/sbin "$PEERS"; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done
  return 1
}

# origin NAME: the Debian package (or other source) that provides NAME.
origin() {
  case $1 in
  redis-server) echo "Debian package redis-server" ;;
  redis-cli | redis-benchmark) echo "Debian package redis-tools" ;;
  nutcracker) echo "Debian package nutcracker" ;;
  taskset) echo "Debian package util-linux" ;;
  memtier_benchmark) echo "no Debian 12 package; ../shared/peers/ has a build (RedisLabs/memtier_benchmark 2.3.0)" ;;
  valkey-server) echo "no Debian 12 package (valkey-server from Debian 13); ../shared/peers/ has Valkey 8.0.1" ;;
  predixy) echo "no Debian package; ../shared/peers/ has a build (joyieldInc/predixy)" ;;
  relcache) echo "make build, or scripts/bench-bundle.sh" ;;
  esac
}

# Pinning: without taskset (Debian: util-linux) processes run where the
# scheduler puts them, which the caller's report should say (PIN=0).
if [ -z "${PIN:-}" ]; then
  PIN=1
  command -v taskset >/dev/null || {
    PIN=0
    echo "warning: taskset not found (Debian: util-linux): every process runs unpinned" >&2
  }
fi

# spawn CORES CMD... starts CMD in the background on CORES (a taskset list)
# and sets pid to it: taskset execs CMD, so pid is CMD's own, whose
# /proc/PID/stat cpu_ticks reads. Redirect the call to redirect CMD. Where
# SPAWNED names a file, the pid is added to it, for a cleanup trap to kill
# (a call inside $(...) could not add to an array of the script's).
spawn() {
  local cores=$1
  shift
  if [ "$PIN" = 1 ]; then taskset -c "$cores" "$@" & else "$@" & fi
  pid=$!
  [ -z "${SPAWNED:-}" ] || echo "$pid" >>"$SPAWNED"
}

# on_cores CORES CMD... runs CMD in the foreground on CORES.
on_cores() {
  local cores=$1
  shift
  if [ "$PIN" = 1 ]; then taskset -c "$cores" "$@"; else "$@"; fi
}

# ncores LIST prints a taskset list's core count: "0-7" -> 8, "4" -> 1, "0,2-3" -> 3.
ncores() {
  local n=0 part
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
  done
  echo $n
}

# start_pinned redis|relcache PORT DIR CORE [ARG...] starts a stock
# redis-server or $RELCACHE (GOMAXPROCS=1, no source) pinned to CORE,
# with no persistence, in the background, passing the ARGs to relcache
# serve; sets pid and waits until PORT answers.
start_pinned() {
  if [ "$1" = redis ]; then
    spawn "$4" "$REDIS_SERVER" --bind 127.0.0.1 --port "$2" --save '' --appendonly no --dir "$3" >/dev/null 2>&1
  else
    spawn "$4" env GOMAXPROCS=1 "$RELCACHE" serve --addr "127.0.0.1:$2" --admin-addr - \
      --source none --save '' --dir "$(mktemp -d -p "$3")" --log-level warn "${@:5}" >/dev/null 2>&1
  fi
  wait_port "$2"
}

# stop PID... kills the processes and waits until they are gone.
stop() {
  local p
  kill "$@" 2>/dev/null || true
  for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
}

# --- memtier_benchmark -------------------------------------------------------
# Both read MEMTIER, CLIENT_CORES, THREADS, CONNS (per thread) and KEYS;
# values are 64 bytes.

# memtier_fill PORT writes keys 0..KEYS-1 through PORT, each client its slice.
memtier_fill() {
  on_cores "$CLIENT_CORES" "$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t "$THREADS" -c "$CONNS" \
    --ratio=1:0 --key-pattern=P:P --key-maximum="$KEYS" --data-size=64 --pipeline=16 \
    --requests=$((KEYS / THREADS / CONNS + 1)) --hide-histogram >/dev/null 2>&1
}

# memtier_measure PORT PIPELINE RATIO SECS JSON runs memtier for SECS
# seconds of GETs (RATIO 0:1) or SETs (1:0) on random keys and prints
# "requests ops/s p50_ms p99_ms misses/s". requests is memtier's own count
# from JSON, not ops/s × SECS: a run lasts longer than --test-time.
memtier_measure() {
  local out
  out=$(on_cores "$CLIENT_CORES" "$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t "$THREADS" -c "$CONNS" \
    --ratio="$3" --key-pattern=R:R --key-maximum="$KEYS" --data-size=64 --pipeline="$2" \
    --test-time="$4" --hide-histogram --print-percentiles=50,99 --json-out-file="$5" 2>/dev/null) || return 1
  awk '/"Totals"/ { t = 1 } t && /"Count"/ { gsub(/[^0-9]/, ""); n = $0; t = 0 } END { print n + 0 }' "$5" |
    paste -d' ' - <(awk '$1 == "Totals" { print $2, $6, $7, $4 }' <<<"$out")
}

# --- batch membership (issue 19 item 3) --------------------------------------

# batch_data DIR LIST BATCH writes LIST member uids to DIR/members, BATCH
# probe uids, every other one a member, to DIR/probe, and the probes packed
# (8 little-endian bytes each) to DIR/packed. Every byte of every uid is an
# ASCII letter: redis-benchmark takes its arguments from argv, which cannot
# carry NUL bytes. The same seed gives the same uids on every machine.
batch_data() {
  local letters=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz i j c o u s packed=''
  local -a members=() bytes=() probe=()
  RANDOM=19
  for ((i = 0; i < $2 + $3; i++)); do # LIST members, then uids that are none
    u=0 s=''
    for j in 0 1 2 3 4 5 6 7; do
      c=${letters:RANDOM%52:1}
      printf -v o %d "'$c"
      s+=$c u=$((u | o << (8 * j)))
    done
    members+=("$u") bytes+=("$s")
  done
  for ((i = 0; i < $3; i++)); do
    j=$((i % 2 == 0 ? i % $2 : $2 + i))
    probe+=("${members[j]}") packed+=${bytes[j]}
  done
  printf '%s\n' "${members[@]:0:$2}" >"$1/members"
  printf '%s\n' "${probe[@]}" >"$1/probe"
  printf '%s' "$packed" >"$1/packed"
}

# batch_round DIR SERVER_CORE CLIENT_CORE N CONNS PIPE, after batch_data
# DIR: Redis's HMGET of the probes on a hash of the members, then relcache's
# RELMULTI of the probes on a list of the members (decimal, BIN, BITS BIN),
# each server alone on SERVER_CORE (relcache GOMAXPROCS=1), N requests of
# redis-benchmark (CONNS connections, pipeline PIPE) on CLIENT_CORE.
# Prints one line per command: name, requests/s, p50 ms, p99 ms, server
# CPU µs per request, separated by tabs.
batch_round() {
  local dir=$1 score=$2 ccore=$3 n=$4 conns=$5 pipe=$6 port pid enc packed form
  local -a members probe hset
  mapfile -t members <"$dir/members"
  mapfile -t probe <"$dir/probe"
  packed=$(cat "$dir/packed")
  hset=(HSET u.following)
  for m in "${members[@]}"; do hset+=("$m" 1700000000); done
  batch_cmd() { # NAME CMD...
    local name=$1 t0 t1 csv
    shift
    t0=$(cpu_ticks "$pid")
    csv=$(on_cores "$ccore" "$REDIS_BENCHMARK" -p "$port" -n "$n" -c "$conns" -P "$pipe" --csv "$@" 2>/dev/null | tail -n 1 | tr -d '"')
    t1=$(cpu_ticks "$pid")
    IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$csv"
    awk -v w="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" \
      'BEGIN { printf "%s\t%.0f\t%s\t%s\t%.2f\n", w, rps, p50, p99, (t / hz) * 1e6 / n }'
  }
  alloc_port
  start_pinned redis "$port" "$dir" "$score"
  "$REDIS_CLI" -p "$port" "${hset[@]}" >/dev/null
  enc=$("$REDIS_CLI" -p "$port" OBJECT ENCODING u.following)
  # Half the probes are members: a server that answered otherwise would be
  # measured doing something else.
  [ "$("$REDIS_CLI" -p "$port" HMGET u.following "${probe[@]}" | grep -c .)" = $(((${#probe[@]} + 1) / 2)) ] ||
    { echo "batch_round: HMGET does not find half the probes" >&2; return 1; }
  batch_cmd "HMGET u.following ${#probe[@]} fields (Redis, $enc)" HMGET u.following "${probe[@]}"
  stop "$pid"
  alloc_port
  start_pinned relcache "$port" "$dir" "$score"
  "$REDIS_CLI" -p "$port" RELLOAD u.following "${members[@]}" >/dev/null
  for form in "" BIN; do
    [ "$(if [ -z "$form" ]; then "$REDIS_CLI" -p "$port" RELMULTI u.following "${probe[@]}"; else
      "$REDIS_CLI" -p "$port" RELMULTI u.following BIN "$packed"; fi | grep -c '^1$')" = $(((${#probe[@]} + 1) / 2)) ] ||
      { echo "batch_round: RELMULTI ${form:-decimal} does not find half the probes" >&2; return 1; }
  done
  batch_cmd "RELMULTI u.following ${#probe[@]} uids (relcache, decimal)" RELMULTI u.following "${probe[@]}"
  batch_cmd "RELMULTI u.following BIN <${#probe[@]} packed> (relcache)" RELMULTI u.following BIN "$packed"
  batch_cmd "RELMULTI u.following BITS BIN <${#probe[@]} packed> (relcache, a bitmap reply)" RELMULTI u.following BITS BIN "$packed"
  stop "$pid"
}

# tmp_dir_cleaned sets tmp to a new directory and arranges that, when the
# script exits (or is interrupted), its background jobs are killed and tmp
# is removed.
tmp_dir_cleaned() {
  tmp=$(mktemp -d)
  trap _cleanup_jobs_and_tmp EXIT
  trap 'exit 130' INT TERM
}
_cleanup_jobs_and_tmp() {
  local pids
  pids=$(jobs -p)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}

# nutcracker_yml PORT SERVERS prints the nutcracker pool the proxy
# benchmarks compare against: listening on 127.0.0.1:PORT, twemproxy's
# fnv1a_64 + ketama placement (what relcache proxy reproduces), one
# connection per node, no ejection; SERVERS is its "    - host:port:1 name"
# lines, newline-terminated.
nutcracker_yml() {
  cat <<YML
pool:
  listen: 127.0.0.1:$1
  hash: fnv1a_64
  distribution: ketama
  redis: true
  server_connections: 1
  auto_eject_hosts: false
  timeout: 1000
  servers:
$2
YML
}
