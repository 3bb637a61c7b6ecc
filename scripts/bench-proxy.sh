#!/usr/bin/env bash
# Sharding fronts side by side, in one run, over the same backends, driven by
# the same client: redis-benchmark through relcache's proxy (proxyfront),
# through twemproxy (nutcracker), and straight at one relcache. Four relcache
# backends sit behind both proxies; a fifth, separate relcache is the "direct"
# column. Per run it reads the front's and the backends' CPU time from
# /proc/PID/stat and prints a Markdown table: req/s, p50/p99 as
# redis-benchmark reports them, and CPU µs per request.
#
#   scripts/bench-proxy.sh
#   N=100000 OUT=/tmp/proxy.md scripts/bench-proxy.sh
#
# Knobs (environment):
#   N        requests per GET/SET run at pipeline depth 1 (default 200000)
#   N_P16    requests per GET/SET run at depth 16 (default 4*N)
#   N_BATCH  requests per MGET/RELCHECK run, each 100 keys or pairs (default N/10)
#   CLIENTS  redis-benchmark connections (default 50)
#   KEYS     GET/SET/MGET keyspace, -r (default 100000)
#   USERS    users with a following set for RELCHECK, -r (default 20000)
#   MEAN     mean follows per user (default 50)
#   NC_CONNS nutcracker server_connections, one column each (default "1 2")
#   PF_CONNS proxyfront server_connections, one proxy and column each (default "1 2")
#   TIMEOUT_MS both proxies' per-request timeout to a backend (default 1000)
#   PIN_FRONT  taskset CPU list for the fronts (nutcracker, each proxy), e.g. 0
#   PIN_CLIENT taskset CPU list for redis-benchmark, e.g. 1
#   PIN_NODES  taskset CPU list for the relcache backends (default: unpinned)
#   WORKLOADS  the workloads to run (default "get-p1 get-p16 mget set-p1 set-p16 relcheck")
#   OUT      also write the report to this file
#
# Per-request CPU of one front on one core, client on another:
#   PIN_FRONT=0 PIN_CLIENT=1 NC_CONNS=1 PF_CONNS=1 WORKLOADS='get-p1 get-p16' scripts/bench-proxy.sh
#
# Needs redis-benchmark and redis-cli (Debian: redis-tools) and nutcracker
# (Debian: nutcracker). Without `relcache proxy` the proxyfront column is
# skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${N:-200000}
N_P16=${N_P16:-$((4 * N))}
N_BATCH=${N_BATCH:-$((N / 10))}
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-100000}
USERS=${USERS:-20000}
MEAN=${MEAN:-50}
NC_CONNS=${NC_CONNS:-1 2}
PF_CONNS=${PF_CONNS:-1 2}
TIMEOUT_MS=${TIMEOUT_MS:-1000}
OUT=${OUT:-}
WORKLOADS=${WORKLOADS:-get-p1 get-p16 mget set-p1 set-p16 relcheck}
# pin_front etc. prefix a command with taskset when asked; the command
# keeps its pid (taskset execs it), so its CPU time is read as before.
pin_front=() pin_client=() pin_nodes=()
[ -n "${PIN_FRONT:-}" ] && pin_front=(taskset -c "$PIN_FRONT")
[ -n "${PIN_CLIENT:-}" ] && pin_client=(taskset -c "$PIN_CLIENT")
[ -n "${PIN_NODES:-}" ] && pin_nodes=(taskset -c "$PIN_NODES")
BATCH=100 # keys per MGET, pairs per RELCHECK

for tool in redis-benchmark:redis-tools redis-cli:redis-tools nutcracker:nutcracker python3:python3; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || {
    echo "bench-proxy: ${tool%%:*} not found; install the Debian package ${tool##*:}" >&2; exit 1; }
done
NUTCRACKER=$(command -v nutcracker || echo /usr/sbin/nutcracker)

make -s build
tmp_dir_cleaned

wait_pong() { # port pid name [log]: until PING answers PONG; fail if the process died
  for _ in $(seq 500); do
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return
    kill -0 "$2" 2>/dev/null || break
    sleep 0.02
  done
  echo "bench-proxy: $3 on port $1 never answered PING${4:+; its log:}" >&2
  [ -n "${4:-}" ] && cat "$4" >&2
  exit 1
}

HZ=$(getconf CLK_TCK)

# A pipelined loader that works through every front (redis-cli --pipe ends
# with ECHO, which nutcracker does not support and answers by closing the
# connection). Prints the count of replies and fails on any error reply.
LOADER=$(cat <<'EOF'
import random, socket, sys

def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

def commands(mode, n, mean):
    if mode == "strings":   # key:%012d as redis-benchmark's __rand_int__ writes it
        for i in range(n):
            yield resp("SET", "key:%012d" % i, ("v%011d" % i) * 5 + "x" * 4)  # 64 bytes
    else:                   # uid's following set: uids 0..n-1, 1..2*mean-1 members
        rnd = random.Random(1)
        for uid in range(n):
            m = rnd.randint(1, 2 * mean - 1)
            members = set(rnd.randrange(n) for _ in range(m)) - {uid}
            yield resp("RELLOAD", "%d.following" % uid, *sorted(members))

port, mode, n, mean = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
replies = 0
def drain(k):
    global replies
    for _ in range(k):
        line = f.readline()
        if not line:
            sys.exit("loader: connection closed after %d replies" % replies)
        if line[:1] not in b"+:":
            sys.exit("loader: unexpected reply %r after %d replies" % (line, replies))
        replies += 1
batch = []
for c in commands(mode, n, mean):
    batch.append(c)
    if len(batch) == 500:
        s.sendall(b"".join(batch)); drain(len(batch)); batch = []
if batch:
    s.sendall(b"".join(batch)); drain(len(batch))
print(replies)
EOF
)
load() { python3 -c "$LOADER" "$@"; }

# --- servers ---------------------------------------------------------------
serve_cmd='bin/relcache serve --addr 127.0.0.1:PORT --admin-addr - --save "" --source none --dir DIR --log-level warn'
start_relcache() { # port dir; sets $! to the server
  mkdir -p "$2"
  "${pin_nodes[@]}" bin/relcache serve --addr "127.0.0.1:$1" --admin-addr - --save "" --source none --dir "$2" --log-level warn &
}
bports=() bpids=() servers=()
for i in 1 2 3 4; do
  p=$(free_port)
  start_relcache "$p" "$tmp/node$i"
  bpids+=($!) bports+=("$p") servers+=("127.0.0.1:$p:1 node$i")
done
dport=$(free_port)
start_relcache "$dport" "$tmp/direct"
dpid=$!
for i in 0 1 2 3; do wait_pong "${bports[$i]}" "${bpids[$i]}" "backend node$((i + 1))"; done
wait_pong "$dport" "$dpid" "direct relcache"

# nutcracker: one pool per server_connections value, all in one process.
nc_conf=$tmp/nutcracker.yml
nc_ports=()
: >"$nc_conf"
for sc in $NC_CONNS; do
  p=$(free_port)
  nc_ports+=("$p")
  {
    echo "relcache_sc$sc:"
    echo "  listen: 127.0.0.1:$p"
    echo "  hash: fnv1a_64"
    echo "  distribution: ketama"
    echo "  redis: true"
    echo "  server_connections: $sc"
    echo "  auto_eject_hosts: false"
    echo "  timeout: $TIMEOUT_MS"
    echo "  servers:"
    for s in "${servers[@]}"; do echo "    - $s"; done
  } >>"$nc_conf"
done
"$NUTCRACKER" -t -c "$nc_conf" >/dev/null 2>&1 || { "$NUTCRACKER" -t -c "$nc_conf"; exit 1; }
"${pin_front[@]}" "$NUTCRACKER" -c "$nc_conf" -o "$tmp/nutcracker.log" &
ncpid=$!
for p in "${nc_ports[@]}"; do wait_pong "$p" "$ncpid" nutcracker "$tmp/nutcracker.log"; done

# proxyfront, if this build has it: one process per server_connections
# value (a proxy's connections per node are per pool, and one pool here).
pf_ports=() pf_pids=() pf_note=''
if bin/relcache proxy --help >/dev/null 2>&1; then
  for sc in $PF_CONNS; do
    p=$(free_port) pf_conf=$tmp/proxy-sc$sc.toml
    {
      echo "listen = \"127.0.0.1:$p\""
      echo "admin = \"127.0.0.1:$(free_port)\""
      echo 'hash = "fnv1a_64"'
      echo 'distribution = "ketama"'
      echo 'route_by = "key"'
      echo '[[pool]]'
      echo 'name = "dc1"'
      echo 'role = "primary"'
      printf 'servers = ['
      sep=''
      for s in "${servers[@]}"; do printf '%s"%s"' "$sep" "$s"; sep=', '; done
      echo ']'
      echo "server_connections = $sc"
      echo "timeout = \"${TIMEOUT_MS}ms\""
    } >"$pf_conf"
    "${pin_front[@]}" bin/relcache proxy --config "$pf_conf" 2>"$tmp/proxy-sc$sc.log" &
    pf_pids+=("$!")
    pf_ports+=("$p")
    wait_pong "$p" "$!" "relcache proxy" "$tmp/proxy-sc$sc.log"
    grep -q 'relcache proxy listening' "$tmp/proxy-sc$sc.log" ||
      echo "bench-proxy: note: the proxy answers PING but logged no 'relcache proxy listening'" >&2
  done
else
  pf_note='`relcache proxy` is not in this build: the proxyfront column is skipped.'
  echo "bench-proxy: $pf_note" >&2
fi

# Targets: name, port, front pid ("" for none), backend pids.
targets=("direct|$dport||$dpid")
i=0
for sc in $NC_CONNS; do
  targets+=("nutcracker sc=$sc|${nc_ports[$i]}|$ncpid|${bpids[*]}")
  i=$((i + 1))
done
i=0
for p in "${pf_ports[@]}"; do
  sc=$(echo $PF_CONNS | cut -d' ' -f$((i + 1)))
  targets+=("proxyfront sc=$sc|$p|${pf_pids[$i]}|${bpids[*]}")
  i=$((i + 1))
done

# --- data ------------------------------------------------------------------
# A target that fails to load or answers a check differently from direct is
# reported under "Failed" and left out of the workloads the check covers; the
# other columns still run.
failed=()
fail() { echo "bench-proxy: $1" >&2; failed+=("$1"); }

# Every front loads the strings itself (the backends behind the two proxies
# are shared, so after both loaded them the backends hold each key once if
# both proxies route it to the same node).
str_targets=()
for t in "${targets[@]}"; do
  IFS='|' read -r name port _ _ <<<"$t"
  if n=$(load "$port" strings "$KEYS" 0 2>"$tmp/load.err"); then
    echo "bench-proxy: loaded $n strings through $name" >&2
    str_targets+=("$t")
  else
    fail "loading strings through $name failed: $(tail -n 1 "$tmp/load.err")"
  fi
done
sum=0
for p in "${bports[@]}"; do sum=$((sum + $(redis-cli -p "$p" dbsize))); done
[ "$sum" -eq "$KEYS" ] ||
  fail "the 4 backends hold $sum keys after $KEYS were loaded through every proxy: the proxies place keys differently"

# One MGET of 100 known keys must give the same, complete answer everywhere.
mget_keys=()
for k in $(seq 0 $((KEYS / BATCH)) $((KEYS - 1)) | head -n $BATCH); do mget_keys+=("$(printf 'key:%012d' "$k")"); done
want=$(redis-cli -p "$dport" mget "${mget_keys[@]}")
[ "$(grep -c '^$' <<<"$want" || true)" -eq 0 ] || { echo "bench-proxy: direct MGET has nils" >&2; exit 1; }
mget_targets=()
for t in "${str_targets[@]}"; do
  IFS='|' read -r name port _ _ <<<"$t"
  got=$(redis-cli -p "$port" mget "${mget_keys[@]}" 2>&1 || true)
  if [ "$got" = "$want" ]; then mget_targets+=("$t"); else
    fail "MGET of $BATCH keys through $name differs from direct ($(diff <(echo "$want") <(echo "$got") | grep -c '^>' || true) lines differ); MGET not run through it"
  fi
done
echo "bench-proxy: MGET of $BATCH keys checked through ${#mget_targets[@]} of ${#str_targets[@]} targets" >&2

# Relation sets: through the fronts that can route RELLOAD (not nutcracker).
rel_targets=()
pf_targets=()
for t in "${targets[@]}"; do [[ $t == proxyfront* ]] && pf_targets+=("$t"); done
for t in "direct|$dport||$dpid" "${pf_targets[@]}"; do
  IFS='|' read -r name port _ _ <<<"$t"
  if n=$(load "$port" relations "$USERS" "$MEAN" 2>"$tmp/load.err"); then
    echo "bench-proxy: loaded $n following sets through $name" >&2
    rel_targets+=("$t")
  else
    fail "loading following sets through $name failed: $(tail -n 1 "$tmp/load.err"); RELCHECK not run through it"
  fi
done
# One RELCHECK of user 7 against users it follows, users who follow it and
# random ones (so both bits and every shard are exercised), sent as plain
# and as zero-padded uids (redis-benchmark's __rand_int__ writes 000000012345,
# which must reach 12345.following), must answer the same everywhere.
a=7
mapfile -t following < <(redis-cli -p "$dport" relmembers "$a.following" | head -n $((BATCH * 2 / 5)))
mapfile -t fans < <(redis-cli -p "$dport" relfollows "$a" $(seq 0 $((USERS - 1))) | grep -n '^1$' | cut -d: -f1 |
  awk '{print $1 - 1}' | head -n $((BATCH * 2 / 5)))
rc_args=("${following[@]}" "${fans[@]}")
while [ ${#rc_args[@]} -lt $BATCH ]; do rc_args+=($((RANDOM % USERS))); done
rc_padded=()
for u in "${rc_args[@]}"; do rc_padded+=("$(printf '%012d' "$u")"); done
want=$(redis-cli -p "$dport" relcheck "$a" BATCH "${rc_args[@]}")
if grep -qx -- -1 <<<"$want"; then echo "bench-proxy: direct RELCHECK has -1 (not cached)" >&2; exit 1; fi
checked=("${rel_targets[@]}")
rel_targets=()
for t in "${checked[@]}"; do
  IFS='|' read -r name port _ _ <<<"$t"
  ok=1
  for args in "$a BATCH ${rc_args[*]}" "$(printf '%012d' $a) BATCH ${rc_padded[*]}"; do
    got=$(redis-cli -p "$port" relcheck $args 2>&1 || true)
    [ "$got" = "$want" ] || {
      ok=0
      fail "RELCHECK ${args:0:24}... ($BATCH uids) through $name differs from direct in $(diff <(echo "$want") <(echo "$got") | grep -c '^>' || true) answers (first: $(diff <(echo "$want") <(echo "$got") | grep -m1 '^>')); RELCHECK not run through it"
      break
    }
  done
  [ $ok = 1 ] && rel_targets+=("$t")
done
echo "bench-proxy: RELCHECK of $BATCH pairs checked through ${#rel_targets[@]} of ${#checked[@]} targets, plain and zero-padded uids (direct's answers: $(sort <<<"$want" | uniq -c | xargs))" >&2

# --- runs ------------------------------------------------------------------
mget_cmd=(MGET) rc_cmd=(RELCHECK __rand_int__ BATCH)
for _ in $(seq $BATCH); do mget_cmd+=("key:__rand_int__"); rc_cmd+=(__rand_int__); done

rows=()
# run workload n extra-args... : one redis-benchmark per target in $run_targets.
run() {
  local workload=$1 n=$2 rc why t name port fpid bp f0 b0 f1 b1 out csv rps p50 p99 fcpu bcpu
  shift 2
  for t in "${run_targets[@]}"; do
    IFS='|' read -r name port fpid bp <<<"$t"
    echo "bench-proxy: $workload via $name ..." >&2
    f0=0 f1=0
    [ -n "$fpid" ] && f0=$(cpu_ticks "$fpid")
    b0=$(cpu_ticks $bp)
    rc=0
    out=$("${pin_client[@]}" redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" --csv "$@" 2>"$tmp/rb.err") || rc=$?
    if [ $rc -ne 0 ]; then # keep going: the other runs still say something
      why=$(grep -hv 'Could not fetch server CONFIG' "$tmp/rb.err" <(echo "$out") | grep -v '^"' | head -n 1)
      echo "bench-proxy: redis-benchmark failed (exit $rc) for $workload via $name: $why" >&2
      case $name in nutcracker*) tail -n 3 "$tmp/nutcracker.log" >&2 ;; proxyfront*) tail -n 3 "$tmp/proxy.log" >&2 ;; esac
      failed+=("$workload via $name: redis-benchmark exit $rc: ${why:-no message}")
      rows+=("| $workload | $name | failed | | | | |")
      continue
    fi
    [ -n "$fpid" ] && f1=$(cpu_ticks "$fpid")
    b1=$(cpu_ticks $bp)
    # redis-benchmark 7 exits non-zero at the first error reply, so a row
    # here is a run in which every request succeeded.
    csv=$(grep '^"' <<<"$out" | tail -n +2 | tail -n 1 | tr -d '"')
    [ -n "$csv" ] || { echo "bench-proxy: no result row for $workload via $name: $out" >&2; exit 1; }
    IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$csv"
    fcpu='—'
    [ -n "$fpid" ] && fcpu=$(awk -v t=$((f1 - f0)) -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.1f", t/hz*1e6/n}')
    bcpu=$(awk -v t=$((b1 - b0)) -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.1f", t/hz*1e6/n}')
    rows+=("| $workload | $name | $(group "$rps") | $p50 | $p99 | $fcpu | $bcpu |")
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
common="-r $KEYS -d 64"
for w in $WORKLOADS; do
  case $w in
  get-p1) run_targets=("${str_targets[@]}") && run "GET -P 1" "$N" -t get -P 1 $common ;;
  get-p16) run_targets=("${str_targets[@]}") && run "GET -P 16" "$N_P16" -t get -P 16 $common ;;
  mget) run_targets=("${mget_targets[@]}") && run "MGET $BATCH keys" "$N_BATCH" -P 1 -r "$KEYS" "${mget_cmd[@]}" ;;
  set-p1) run_targets=("${str_targets[@]}") && run "SET -P 1" "$N" -t set -P 1 $common ;;
  set-p16) run_targets=("${str_targets[@]}") && run "SET -P 16" "$N_P16" -t set -P 16 $common ;;
  relcheck) run_targets=("${rel_targets[@]}") && run "RELCHECK 1×$BATCH" "$N_BATCH" -P 1 -r "$USERS" "${rc_cmd[@]}" ;;
  *) echo "bench-proxy: unknown workload $w" >&2 && exit 2 ;;
  esac
done

# --- report ----------------------------------------------------------------
rb_mget="redis-benchmark -p PORT -c $CLIENTS -n $N_BATCH --csv -P 1 -r $KEYS MGET key:__rand_int__ ... (×$BATCH)"
rb_rc="redis-benchmark -p PORT -c $CLIENTS -n $N_BATCH --csv -P 1 -r $USERS RELCHECK __rand_int__ BATCH __rand_int__ ... (1+$BATCH uids)"
{
  echo "## Proxies: proxyfront vs nutcracker vs direct ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- Machine: $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r); load average (1/5/15 min) $load_before before the runs, $(cut -d' ' -f1-3 /proc/loadavg) after"
  echo "- Versions: $(redis-benchmark --version), $("$NUTCRACKER" --version 2>&1 | head -n 1 | sed 's/^This is //'), relcache $(bin/relcache version | sed 's/^relcache //'), $(go version | cut -d' ' -f3-)"
  echo "- Backends (4 behind the proxies, a 5th for \"direct\"): \`$serve_cmd\`"
  echo "- nutcracker: \`nutcracker -c nutcracker.yml -o nutcracker.log\`, one pool per server_connections in {$NC_CONNS}:"
  echo
  echo '```yaml'
  cat "$nc_conf"
  echo '```'
  echo
  if [ ${#pf_ports[@]} -gt 0 ]; then
    echo "- proxyfront: \`bin/relcache proxy --config proxy.toml\`, one process per server_connections in {$PF_CONNS}; the first:"
    echo
    echo '```toml'
    cat "$tmp/proxy-sc$(echo $PF_CONNS | cut -d' ' -f1).toml"
    echo '```'
  else
    echo "- proxyfront: $pf_note"
  fi
  echo
  echo "- Data: $KEYS strings key:%012d of 64 bytes loaded through every target; $USERS following sets (uids 0..$((USERS - 1)), 1..$((2 * MEAN - 1)) members each) loaded by RELLOAD through direct$([ ${#pf_ports[@]} -gt 0 ] && echo ' and proxyfront')."
  echo "- Runs, the same invocation against each target's port:"
  echo
  echo '```sh'
  for w in $WORKLOADS; do # the invocations of the workloads that ran, in order
    case $w in
    get-p1) echo "redis-benchmark -p PORT -c $CLIENTS -n $N --csv -t get -P 1 $common" ;;
    get-p16) echo "redis-benchmark -p PORT -c $CLIENTS -n $N_P16 --csv -t get -P 16 $common" ;;
    mget) echo "$rb_mget" ;;
    set-p1) echo "redis-benchmark -p PORT -c $CLIENTS -n $N --csv -t set -P 1 $common" ;;
    set-p16) echo "redis-benchmark -p PORT -c $CLIENTS -n $N_P16 --csv -t set -P 16 $common" ;;
    relcheck) echo "$rb_rc" ;;
    esac
  done
  echo '```'
  echo
  echo "- Pinned (taskset): fronts ${PIN_FRONT:-not pinned}, redis-benchmark ${PIN_CLIENT:-not pinned}, backends ${PIN_NODES:-not pinned}."
  echo
  echo "CPU is utime+stime from /proc/PID/stat (CLK_TCK $HZ) over each run, per request (an MGET or RELCHECK of $BATCH is one request); front = the proxy process, backend = the sum over the 4 backends (direct: the one relcache). Client, fronts and backends share the $(nproc) vCPUs."
  echo
  echo "| workload | target | req/s | p50 ms | p99 ms | front CPU µs/req | backend CPU µs/req |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "RELCHECK via nutcracker: not run; twemproxy cannot route it (it logs \"parsed unsupported command 'RELCHECK'\" and closes the connection)."
  [ -n "$pf_note" ] && echo "$pf_note"
  echo "Before the runs, one MGET of $BATCH keys and one RELCHECK of $BATCH pairs (plain and zero-padded uids) through each target were compared with direct's answers; a target that differed is listed under Failed and left out of that workload. redis-benchmark 7 stops at the first error reply, so a row with numbers is a run in which every request succeeded."
  if [ ${#failed[@]} -gt 0 ]; then
    echo
    echo "Failed:"
    printf -- '- %s\n' "${failed[@]}"
  fi
} | if [ -n "$OUT" ]; then tee "$OUT"; else cat; fi
[ ${#failed[@]} -eq 0 ] || exit 1
