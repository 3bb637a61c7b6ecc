#!/usr/bin/env bash
# Every per-request target of issue 19 in one run, each beside its
# reference, with a core layout chosen from nproc, printed as one Markdown
# report headed by the machine:
#   1. server GET and SET at pipeline 1 and 16: relcache vs redis-server vs
#      Valkey 8 (--io-threads = the server's cores);
#   2. proxy GET at pipeline 1 and 16, four one-core relcache nodes behind:
#      `relcache proxy` vs nutcracker vs predixy;
#   3. RELMULTI of 500 (decimal, BIN, BITS BIN) vs Redis's HMGET of 500,
#      each server on one core (lib.sh's batch_round, as bench-batch.sh).
# Columns: requests/s, p50/p99, CPU µs per request (utime+stime from
# /proc/PID/stat over the run / the requests the client counted), and
# throughput per core.
#
# Layout (nproc ≥ 16): servers on cores 0-7 (proxies on 0-3, nodes on 4, 5,
# 6, 7), memtier_benchmark on 8-15 with 8 threads × 25 connections = 200.
# With 2-15 cores: every server and proxy on core 0, client and the nodes
# behind the proxies on core 1, memtier 1 thread × 50 connections. The
# batch rows put their one server on the first server core and
# redis-benchmark on the first client core.
#
#   scripts/bench-cores.sh                       # about 5 minutes
#   QUICK=1 scripts/bench-cores.sh               # about 1 minute, to try it
#   BIN_DIR=bench-bundle scripts/bench-cores.sh  # with scripts/bench-bundle.sh's binaries
#
# Knobs (environment): QUICK, BIN_DIR, OUT (also write the report there),
# SECS (seconds per memtier run: 10, QUICK 2), KEYS (200000, QUICK 20000),
# BATCH_N (redis-benchmark requests per batch run: 20000, QUICK 2000),
# IO_MODELS (relcache's server rows: "goroutine eventloop"),
# PROXY_IO_MODELS (relcache proxy's rows, its io_model: "goroutine eventloop"),
# BATCH_PIPES ("1 16"), SRV_CORES, PROXY_CORES, NODE_CORES, CLIENT_CORES,
# THREADS, CONNS (per memtier thread), NPROC (the cores the layout is
# chosen for: nproc), PIN (0: no taskset), NC_CONNS (nutcracker's
# server_connections, 1), PEERS (../shared/peers), BUILD (auto: `make
# build` when BIN_DIR is unset and go is here; 0 never; 1 always).
#
# Each binary is looked up in BIN_DIR, then bin/, then PATH, /usr/sbin and
# PEERS; a row whose binary is missing is skipped with a line that names it
# and where it comes from. Needs bash, coreutils, grep, sed and awk; taskset
# (util-linux) for pinning, without which every process runs unpinned and
# the report says so. Nothing is fetched: it runs as it is on a machine
# without network.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

QUICK=${QUICK:-0}
BIN_DIR=${BIN_DIR:-}
OUT=${OUT:-}
# relcache's io-models in the server rows (issue 19 item 1: eventloop is
# the one with Redis's system-call pattern; goroutine is the default).
IO_MODELS=${IO_MODELS:-goroutine eventloop}
PROXY_IO_MODELS=${PROXY_IO_MODELS:-goroutine eventloop}
NPROC=${NPROC:-$(nproc)} # NPROC=16 PIN=0 tries the 16-core layout's settings, unpinned, on a small machine
if [ "$QUICK" = 1 ]; then
  SECS=${SECS:-2} KEYS=${KEYS:-20000} BATCH_N=${BATCH_N:-2000}
else
  SECS=${SECS:-10} KEYS=${KEYS:-200000} BATCH_N=${BATCH_N:-20000}
fi
BATCH_PIPES=${BATCH_PIPES:-1 16}
NC_CONNS=${NC_CONNS:-1}
if [ "$NPROC" -ge 16 ]; then
  SRV_CORES=${SRV_CORES:-0-7} PROXY_CORES=${PROXY_CORES:-0-3} NODE_CORES=${NODE_CORES:-4 5 6 7}
  CLIENT_CORES=${CLIENT_CORES:-8-15} THREADS=${THREADS:-8} CONNS=${CONNS:-25}
else
  SRV_CORES=${SRV_CORES:-0} PROXY_CORES=${PROXY_CORES:-0} NODE_CORES=${NODE_CORES:-1 1 1 1}
  CLIENT_CORES=${CLIENT_CORES:-1} THREADS=${THREADS:-1} CONNS=${CONNS:-50}
fi
if [ "$NPROC" -lt 2 ] && [ "$PIN" = 1 ]; then
  echo "bench-cores: one core: nothing to pin apart, every process runs unpinned" >&2
  PIN=0
fi
HZ=$(getconf CLK_TCK)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- binaries ----------------------------------------------------------------
skipped=() # one line per row or section not run, and why

# need VAR NAME WHAT: sets VAR to NAME's path, or notes that WHAT is skipped.
need() {
  local p
  if p=$(where "$2"); then
    printf -v "$1" %s "$p"
  else
    printf -v "$1" %s ''
    skipped+=("$3: \`$2\` not found in ${BIN_DIR:+$BIN_DIR, }bin/, PATH, /usr/sbin or $PEERS ($(origin "$2"))")
    echo "bench-cores: ${skipped[-1]}" >&2
    return 1
  fi
}

BUILD=${BUILD:-auto}
if [ "$BUILD" = 1 ] || { [ "$BUILD" = auto ] && [ -z "$BIN_DIR" ] && command -v go >/dev/null; }; then
  make -s build
fi
need RELCACHE relcache "every relcache row" || true
need MEMTIER memtier_benchmark "the server and proxy rows" || true
need REDIS_CLI redis-cli "the batch rows" || true
need REDIS_SERVER redis-server "Redis's server and batch rows" || true
need REDIS_BENCHMARK redis-benchmark "the batch rows" || true
need VALKEY valkey-server "Valkey's server rows" || true
need NUTCRACKER nutcracker "nutcracker's proxy rows" || true
need PREDIXY predixy "predixy's proxy rows" || true
[ "$PIN" = 1 ] || skipped+=("pinning: none (PIN=0, or no \`taskset\`: $(origin taskset)); every process ran where the scheduler put it, so client and servers shared cores")

tmp=$(mktemp -d)
SPAWNED=$tmp/pids
cleanup() { # under set -e a failing command here would turn the exit status into 1
  [ ! -f "$SPAWNED" ] || kill $(cat "$SPAWNED") 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- measuring ---------------------------------------------------------------
declare -A row  # "section|test|name" -> cores|req/s|p50|p99|CPU µs|nodes CPU µs|req/s per core|req per CPU-s
declare -A cpu  # "section|test|name" -> CPU µs per request
names=()        # section|name in the order run, for the report
declare -A ref_of=([server]=Redis [proxy]=nutcracker) # section -> its reference's name

# measure SECTION NAME CORES PID PORT OP PIPELINE [NODE_PIDS...]: one
# memtier run; CORES is the cores the process can use (a single-threaded
# server: 1), by which req/s is divided per core.
measure() {
  local sec=$1 name=$2 cores=$3 pid=$4 port=$5 op=$6 pl=$7 ratio=0:1 t0 t1 n0=0 n1=0 r n ops p50 p99 miss us nus note=''
  shift 7
  [ "$op" = SET ] && ratio=1:0
  echo "bench-cores: $sec $name $op P$pl ..." >&2
  t0=$(cpu_ticks "$pid")
  [ $# -gt 0 ] && n0=$(cpu_ticks "$@")
  if ! r=$(memtier_measure "$port" "$pl" "$ratio" "$SECS" "$tmp/memtier.json"); then
    row["$sec|$op P$pl|$name"]="$cores|failed (memtier_benchmark exited non-zero)||||||"
    skipped+=("$sec $name $op P$pl: memtier_benchmark failed")
    return
  fi
  t1=$(cpu_ticks "$pid")
  [ $# -gt 0 ] && n1=$(cpu_ticks "$@")
  read -r n ops p50 p99 miss <<<"$r"
  printf -v p50 %.3f "$p50"
  printf -v p99 %.3f "$p99"
  [ "$n" -gt 0 ] || {
    row["$sec|$op P$pl|$name"]="$cores|failed (no requests counted)||||||"
    skipped+=("$sec $name $op P$pl: memtier_benchmark counted no requests")
    return
  }
  us=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  nus='—'
  [ $# -gt 0 ] && nus=$(awk -v t=$((n1 - n0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  # A GET that misses did less work than one that hits: after the fill
  # every key exists, so misses mean a front routed or answered wrongly.
  if [ "$op" = GET ] && awk -v m="$miss" -v o="$ops" 'BEGIN { exit !(m > o / 100) }'; then
    note=" (misses: $(group "$miss")/s)"
    skipped+=("$sec $name GET P$pl: $(group "$miss") misses/s of $(group "$ops") (every key was written first); its numbers are not comparable")
  fi
  cpu["$sec|$op P$pl|$name"]=$us
  row["$sec|$op P$pl|$name"]="$cores|$(group "$ops")$note|$p50|$p99|$us|$nus|$(group "$(awk -v o="$ops" -v c="$cores" 'BEGIN { print o / c }')")|$(group "$(awk -v u="$us" 'BEGIN { print (u > 0 ? 1e6 / u : 0) }')")"
}

# --- 1. servers --------------------------------------------------------------
srv_n=$(ncores "$SRV_CORES")
# server NAME: starts it on SRV_CORES; sets pid and port.
server() {
  local d
  d=$(mktemp -d -p "$tmp")
  alloc_port
  case $1 in
  redis) spawn "$SRV_CORES" "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$d" >"$d/log" 2>&1 ;;
  valkey) spawn "$SRV_CORES" "$VALKEY" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$d" \
    --io-threads "$srv_n" >"$d/log" 2>&1 ;;
  relcache-*) spawn "$SRV_CORES" env GOMAXPROCS="$srv_n" "$RELCACHE" serve --addr "127.0.0.1:$port" --admin-addr - \
    --source none --save '' --dir "$d" --log-level warn --io-model "${1#relcache-}" >"$d/log" 2>&1 ;;
  esac
  wait_port "$port" || { cat "$d/log" >&2; exit 1; }
}
if [ -n "$MEMTIER" ]; then
  srv_rows=("redis|Redis|$REDIS_SERVER|1" "valkey|Valkey (io-threads $srv_n)|$VALKEY|$srv_n")
  for m in $IO_MODELS; do srv_rows+=("relcache-$m|relcache $m (GOMAXPROCS $srv_n)|$RELCACHE|$srv_n"); done
  for s in "${srv_rows[@]}"; do
    IFS='|' read -r kind name bin cores <<<"$s"
    [ -n "$bin" ] || continue
    names+=("server|$name")
    [ "$kind" = redis ] && ref_of[server]=$name
    server "$kind"
    memtier_fill "$port"
    for op in GET SET; do for pl in 1 16; do measure server "$name" "$cores" "$pid" "$port" "$op" "$pl"; done; done
    stop "$pid"
  done
fi

# --- 2. proxies --------------------------------------------------------------
proxy_n=$(ncores "$PROXY_CORES")
read -ra node_cores <<<"$NODE_CORES"
if [ -n "$MEMTIER" ] && [ -n "$RELCACHE" ]; then
  nodes=() npids=()
  for i in 1 2 3 4; do
    mkdir -p "$tmp/node$i"
    alloc_port
    spawn "${node_cores[$(((i - 1) % ${#node_cores[@]}))]}" env GOMAXPROCS=1 "$RELCACHE" serve --addr "127.0.0.1:$port" \
      --admin-addr - --source none --save '' --dir "$tmp/node$i" --log-level warn >"$tmp/node$i/log" 2>&1
    wait_port "$port"
    nodes+=("$port") npids+=("$pid")
  done
  conf() { # FRONT PORT: the front's config for the 4 nodes, as twemproxy places keys (predixy: crc16 modula)
    local i
    case $1 in
    nutcracker)
      printf 'bench:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n' "$2"
      printf '  server_connections: %s\n  auto_eject_hosts: false\n  timeout: 1000\n  servers:\n' "$NC_CONNS"
      for i in 0 1 2 3; do printf '    - 127.0.0.1:%s:1 node%d\n' "${nodes[$i]}" $((i + 1)); done
      ;;
    predixy)
      printf 'Bind 127.0.0.1:%s\nWorkerThreads %s\nStandaloneServerPool {\n' "$2" "$proxy_n"
      printf '    RefreshMethod fixed\n    Hash crc16\n    Distribution modula\n'
      for i in 0 1 2 3; do printf '    Group g%d {\n        + 127.0.0.1:%s\n    }\n' $((i + 1)) "${nodes[$i]}"; done
      printf '}\n'
      ;;
    relcache)
      printf 'listen = "127.0.0.1:%s"\nadmin = "-"\nhash = "fnv1a_64"\ndistribution = "ketama"\n' "$2"
      printf '[[pool]]\nname = "dc1"\nrole = "primary"\nservers = [%s]\n' \
        "$(for i in 0 1 2 3; do printf '%s"127.0.0.1:%s:1 node%d"' "$([ $i = 0 ] || echo ', ')" "${nodes[$i]}" $((i + 1)); done)"
      ;;
    esac
  }
  fronts=("nutcracker|nutcracker (1 thread)|$NUTCRACKER|1" "predixy|predixy (WorkerThreads $proxy_n)|$PREDIXY|$proxy_n")
  for m in $PROXY_IO_MODELS; do fronts+=("relcache|relcache proxy $m (GOMAXPROCS $proxy_n)|$RELCACHE|$proxy_n|$m"); done
  for f in "${fronts[@]}"; do
    IFS='|' read -r kind name bin cores model <<<"$f"
    [ -n "$bin" ] || continue
    if [ "$kind" = relcache ] && ! "$RELCACHE" proxy --help >/dev/null 2>&1; then
      skipped+=("proxy rows of relcache proxy: this relcache has no \`proxy\` command"); continue
    fi
    names+=("proxy|$name")
    [ "$kind" = nutcracker ] && ref_of[proxy]=$name
    alloc_port
    conf "$kind" "$port" >"$tmp/$kind.conf"
    case $kind in
    nutcracker) # its stats server listens too, on 22222 unless told
      local_port=$port
      alloc_port
      spawn "$PROXY_CORES" "$bin" -c "$tmp/$kind.conf" -o "$tmp/$kind.log" -a 127.0.0.1 -s "$port" >/dev/null 2>&1
      port=$local_port
      ;;
    predixy) spawn "$PROXY_CORES" "$bin" "$tmp/$kind.conf" >"$tmp/$kind.log" 2>&1 ;;
    relcache) spawn "$PROXY_CORES" env GOMAXPROCS="$proxy_n" "$bin" proxy --config "$tmp/$kind.conf" \
      --io-model "$model" --log-level warn >"$tmp/$kind.log" 2>&1 ;;
    esac
    wait_port "$port" || { cat "$tmp/$kind.log" >&2; exit 1; }
    memtier_fill "$port"
    for pl in 1 16; do measure proxy "$name" "$cores" "$pid" "$port" GET "$pl" "${npids[@]}"; done
    stop "$pid"
  done
  stop "${npids[@]}"
fi

# --- 3. batches --------------------------------------------------------------
bcore=${SRV_CORES%%[-,]*} ccore=${CLIENT_CORES%%[-,]*}
batch_ok=0
if [ -n "$RELCACHE" ] && [ -n "$REDIS_SERVER" ] && [ -n "$REDIS_CLI" ] && [ -n "$REDIS_BENCHMARK" ]; then
  batch_ok=1
  mkdir -p "$tmp/batch"
  batch_data "$tmp/batch" 3000 500
  for pl in $BATCH_PIPES; do
    echo "bench-cores: batch P$pl ..." >&2
    batch_round "$tmp/batch" "$bcore" "$ccore" "$BATCH_N" 8 "$pl" >"$tmp/batch/P$pl"
  done
fi

# --- report ------------------------------------------------------------------
version() { [ -n "$2" ] && "$2" --version 2>&1 | head -n 1 | sed "s/^/$1: /" || true; }
commit=$(git rev-parse --short HEAD 2>/dev/null || true)
[ -n "$commit" ] && ! git diff --quiet HEAD 2>/dev/null && commit+=" (uncommitted changes)"
manifest=${BIN_DIR:+$BIN_DIR/MANIFEST}
[ -n "$commit" ] || commit=$( [ -f "$manifest" ] && sed -n 's/^commit: //p' "$manifest" || echo unknown)
gover=$(go version "$RELCACHE" 2>/dev/null | awk '{print $NF}' || true)
[ -n "$gover" ] || gover=$( [ -f "$manifest" ] && sed -n 's/^go: //p' "$manifest" || echo unknown)
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
[ -n "$model" ] || model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
pinning="pinned with taskset"
[ "$PIN" = 1 ] || pinning="NOT pinned (no taskset)"
report() {
  echo "## Per-request cost, every target in one run ($started)"
  echo
  echo "- Machine: $model, $NPROC cores online ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p') thread(s) per core), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
  echo "- relcache: $([ -n "$RELCACHE" ] && "$RELCACHE" version) ($RELCACHE), built with $gover; commit $commit"
  echo "- Ran for $((SECONDS / 60)) min $((SECONDS % 60)) s (the device allows 600 s a command)"
  echo "- Command: \`${BIN_DIR:+BIN_DIR=$BIN_DIR }$([ "$QUICK" = 1 ] && echo "QUICK=1 ")scripts/bench-cores.sh\` (SECS=$SECS KEYS=$KEYS BATCH_N=$BATCH_N)"
  echo "- Versions: $(for b in "Redis|$REDIS_SERVER" "Valkey|$VALKEY" "nutcracker|$NUTCRACKER" "predixy|$PREDIXY" "memtier|$MEMTIER" "redis-benchmark|$REDIS_BENCHMARK"; do version "${b%%|*}" "${b#*|}"; done | paste -sd';' | sed 's/;/; /g')"
  echo "- Binaries: relcache $RELCACHE, redis-server ${REDIS_SERVER:-—}, valkey-server ${VALKEY:-—}, nutcracker ${NUTCRACKER:-—}, predixy ${PREDIXY:-—}, memtier_benchmark ${MEMTIER:-—}, redis-benchmark ${REDIS_BENCHMARK:-—}"
  echo "- Layout ($pinning): servers on cores $SRV_CORES; proxies on $PROXY_CORES in front of four one-core relcache nodes on cores {$NODE_CORES}; clients on $CLIENT_CORES"
  echo "- Clients: memtier_benchmark for the server and proxy rows ($THREADS thread(s) × $CONNS connections, $KEYS keys of 64 bytes written first, then random keys for $SECS s per row: \`memtier_benchmark -t $THREADS -c $CONNS --ratio=0:1|1:0 --key-pattern=R:R --key-maximum=$KEYS --data-size=64 --pipeline=P --test-time=$SECS\`); redis-benchmark for the batch rows (8 connections, $BATCH_N requests per row)."
  echo "- CPU µs/req is utime+stime from /proc/PID/stat over the run (CLK_TCK $HZ) divided by the requests memtier counted; \"× ref\" divides it by the reference's in the same test. \"cores\" is what the process can use (a single-threaded one: 1); req/s per core divides by it; req per CPU-s is 1e6 / CPU µs."
  local sec t n ref us x c ops p50 p99 nus pc pcpu ran
  for sec in server proxy; do
    echo
    if [ "$sec" = server ]; then
      echo "### 1. Server: GET and SET (reference: Redis)"
    else
      echo "### 2. Proxy: GET through a front, 4 nodes behind (reference: nutcracker; nodes CPU is the 4 nodes' together)"
    fi
    echo
    ran=0
    for n in "${names[@]}"; do [ "${n%%|*}" != "$sec" ] || ran=1; done
    if [ "$ran" = 0 ]; then
      echo "Not run: see below."
      continue
    fi
    echo "| test | $sec | cores | req/s | p50 ms | p99 ms | CPU µs/req | × ref | nodes CPU µs/req | req/s per core | req per CPU-s |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in "GET P1" "GET P16" "SET P1" "SET P16"; do
      for n in "${names[@]}"; do
        [ "${n%%|*}" = "$sec" ] || continue
        n=${n#*|}
        [ -n "${row[$sec|$t|$n]:-}" ] || continue
        ref=${cpu[$sec|$t|${ref_of[$sec]}]:-} us=${cpu[$sec|$t|$n]:-} x='—'
        [ -n "$ref" ] && [ -n "$us" ] && x=$(awk -v r="$ref" -v u="$us" 'BEGIN { printf "%.2f", (r > 0 ? u / r : 0) }')
        IFS='|' read -r c ops p50 p99 us nus pc pcpu <<<"${row[$sec|$t|$n]}"
        echo "| $t | $n | $c | $ops | $p50 | $p99 | $us | $x | $nus | $pc | $pcpu |"
      done
    done
  done
  echo
  echo "### 3. Batch membership: RELMULTI of 500 vs HMGET of 500 (one server core: $bcore; redis-benchmark on core $ccore)"
  echo
  if [ "$batch_ok" = 1 ]; then
    echo "| pipeline | command | req/s | p50 ms | p99 ms | server CPU µs/req | checks per CPU-s | × HMGET |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    for pl in $BATCH_PIPES; do
      awk -F'\t' -v pl="$pl" '
        function group(x, s, out) { # 1234567 -> 1,234,567
          for (s = sprintf("%.0f", x); length(s) > 3; s = substr(s, 1, length(s) - 3)) out = "," substr(s, length(s) - 2) out
          return s out
        }
        { c = $5 > 0 ? 500 / $5 : 0 } # 0: the run took less CPU than one clock tick (a tiny BATCH_N)
        NR == 1 { ref = c }
        { printf "| %s | %s | %s | %s | %s | %.2f | %s | %s |\n", pl, $1, group($2), $3, $4, $5,
            (c > 0 ? sprintf("%.1f M", c) : "< 1 tick"), (c > 0 && ref > 0 ? sprintf("%.2f", c / ref) : "—") }' "$tmp/batch/P$pl"
    done
  else
    echo "Not run: see below."
  fi
  if [ ${#skipped[@]} -gt 0 ]; then
    echo
    echo "Skipped or doubtful:"
    printf -- '- %s\n' "${skipped[@]}"
  fi
}
report | if [ -n "$OUT" ]; then tee "$OUT"; else cat; fi
