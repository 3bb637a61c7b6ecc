#!/usr/bin/env bash
# FOLLOW throughput of `relcache serve` on each source layout: the embedded
# SQLite file, MariaDB with both databases on one server (one transaction per
# FOLLOW), and two MariaDB servers (two transactions joined by an intent).
# Starts throwaway mariadbd servers (temp datadirs, random ports, the test
# harness's settings) and runs redis-benchmark against the binary.
#
#   scripts/bench-follow.sh [BINARY] [CLIENTS...]   # default bin/relcache, clients 1 8
#
# Give an older build as BINARY to compare (its schema comes from itself).
# redis-benchmark stops at the first error reply: about one run in fifty
# draws a == b ("ERR a user cannot follow itself"); run it again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export PATH="$PATH:/usr/sbin"
bin=${1:-}
if [ -z "$bin" ]; then make -s build; bin=bin/relcache; fi
shift || true
clients=(1 8)
if [ $# -gt 0 ]; then clients=("$@"); fi
work=$(mktemp -d)
trap 'for p in "$work"/m*/pid; do kill "$(cat "$p")" 2>/dev/null || true; done; sleep 1; rm -rf "$work"' EXIT
ports=()
for n in 1 2; do
  d="$work/m$n"; mkdir -p "$d"; port=$(free_port); ports+=("$port")
  mariadb-install-db --no-defaults --datadir="$d/data" --auth-root-authentication-method=normal \
    --skip-test-db --user="$(id -un)" >/dev/null
  # The same settings as internal/relcachetest.StartMariaDB.
  mariadbd --no-defaults --datadir="$d/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$d/sock" --pid-file="$d/pid" --tmpdir="$d" --user="$(id -un)" \
    --skip-log-bin --skip-name-resolve --performance-schema=OFF \
    --innodb-buffer-pool-size=1G --innodb-log-file-size=256M \
    --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 --innodb-flush-method=nosync \
    --innodb-max-dirty-pages-pct=90 --max-connections=500 2>"$d/err.log" &
done
for port in "${ports[@]}"; do
  for _ in $(seq 100); do mariadb-admin --no-defaults -h127.0.0.1 -P"$port" -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(mariadbd --version | cut -d' ' -f4), $("$bin" version)"

# run LAYOUT CLIENTS: one redis-benchmark of 20000 FOLLOWs of random edges.
run() {
  local layout=$1 c=$2 src=()
  case $layout in
    sqlite) src=(--source sqlite) ;;
    mysql-one-server) src=(--source mysql --source-dbs 2 --source-tables 1 --source-mysql "0-1=root@tcp(127.0.0.1:${ports[0]})/") ;;
    mysql-two-servers) src=(--source mysql --source-dbs 2 --source-tables 1
      --source-mysql "0=root@tcp(127.0.0.1:${ports[0]})/" --source-mysql "1=root@tcp(127.0.0.1:${ports[1]})/") ;;
  esac
  for port in "${ports[@]}"; do
    mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'DROP DATABASE IF EXISTS relation_00; DROP DATABASE IF EXISTS relation_01'
  done
  local dir="$work/serve"; rm -rf "$dir"; mkdir -p "$dir"
  [ "$layout" = sqlite ] || "$bin" schema "${src[@]}" >/dev/null
  local port; port=$(free_port)
  "$bin" serve --addr "127.0.0.1:$port" --admin-addr - --dir "$dir" --save "" --log-level warn "${src[@]}" >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  printf '%-18s c=%-3s ' "$layout" "$c"
  # redis-benchmark stops at the first error reply, and prints it.
  { timeout 300 redis-benchmark -p "$port" -n 20000 -c "$c" -r 1000000 -q FOLLOW __rand_int__ __rand_int__ 2>&1 || true; } |
    tr '\r' '\n' | grep -v '^$' | tail -1
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
}
for layout in sqlite mysql-one-server mysql-two-servers; do
  for c in "${clients[@]}"; do run "$layout" "$c"; done
done
