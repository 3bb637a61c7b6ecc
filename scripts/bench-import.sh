#!/usr/bin/env bash
# Import rate of `relcache import` into a local MariaDB: starts a throwaway
# mariadbd (temp datadir, random port, the test harness's settings), creates
# the 4 x 16 schema, generates a power-law graph and imports it, timed.
#
#   scripts/bench-import.sh [USERS] [MEAN]    # default 500000 users x 20 = ~10M edges
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
USERS=${1:-500000}
MEAN=${2:-20}
export PATH="$PATH:/usr/sbin"
make -s build
work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
port=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/data" --auth-root-authentication-method=normal \
  --skip-test-db --user="$(id -un)" >/dev/null
# The same settings as internal/relcachetest.StartMariaDB.
mariadbd --no-defaults --datadir="$work/data" --port="$port" --bind-address=127.0.0.1 \
  --socket="$work/sock" --pid-file="$work/pid" --user="$(id -un)" \
  --skip-log-bin --skip-name-resolve --performance-schema=OFF \
  --innodb-buffer-pool-size=1G --innodb-log-file-size=256M \
  --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 --innodb-flush-method=nosync \
  --innodb-max-dirty-pages-pct=90 --max-connections=500 2>"$work/err.log" &
for _ in $(seq 100); do mariadb-admin --no-defaults -h127.0.0.1 -P"$port" -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done
src=(--source mysql --source-dbs 4 --source-tables 16 --source-mysql "0-3=root@tcp(127.0.0.1:$port)/")
bin/relcache schema "${src[@]}" >/dev/null
bin/relcache gen-graph --users "$USERS" --mean "$MEAN" --seed 1 --out "$work/graph.tsv"
echo "graph: $(grep -vc '^#' "$work/graph.tsv") lines, $(du -h "$work/graph.tsv" | cut -f1)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(mariadbd --version | cut -d' ' -f4)"
/usr/bin/time -f "import: %e s wall, %U s user, %S s sys, %M KB max RSS (relcache)" \
  bin/relcache import "$work/graph.tsv" "${src[@]}" ${IMPORT_FLAGS:-}
