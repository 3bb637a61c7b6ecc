#!/usr/bin/env bash
# GET over TLS against plaintext on one relcache, pinned: the server on
# SERVER_CORE (GOMAXPROCS=1), redis-benchmark on CLIENT_CORE, the same keys,
# plaintext and TLS ports of one process, alternating, REPS rounds. Prints
# a Markdown table of requests/s and server CPU µs per request (utime+stime
# from /proc/PID/stat over each run).
#
#   scripts/bench-tls.sh
#   N=200000 C=50 REPS=2 SERVER_CORE=0 CLIENT_CORE=1 scripts/bench-tls.sh
#
# Needs redis-benchmark built with TLS (Debian's redis-tools is) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-200000}
C=${C:-50}
REPS=${REPS:-2}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
TICK=$(getconf CLK_TCK)
for b in redis-benchmark openssl; do
  command -v "$b" >/dev/null || { echo "bench-tls: $b not found" >&2; exit 1; }
done
make -s build
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
port=$(free_port)
tport=$(free_port)
GOMAXPROCS=1 taskset -c "$SERVER_CORE" bin/relcache serve --addr "127.0.0.1:$port" --admin-addr - \
  --tls-port "$tport" --tls-cert-file "$tmp/cert.pem" --tls-key-file "$tmp/key.pem" --tls-auth-clients no \
  --source none --save '' --dir "$tmp" --log-level warn >/dev/null 2>&1 &
pid=$!
wait_port "$port"
wait_port "$tport"
redis-benchmark -p "$port" -t set -n 100000 -r 100000 -d 64 -q >/dev/null

echo "| transport | pipeline | round | requests/s | server CPU µs / request |"
echo "|---|---:|---:|---:|---:|"
for P in 1 16; do
  for rep in $(seq "$REPS"); do
    for t in plain tls; do
      args=(-p "$port")
      [ "$t" = tls ] && args=(-p "$tport" --tls --cacert "$tmp/cert.pem")
      t0=$(cpu_ticks "$pid")
      rps=$(taskset -c "$CLIENT_CORE" redis-benchmark "${args[@]}" -t get -n "$N" -c "$C" -P "$P" -r 100000 -d 64 --csv 2>/dev/null |
        tail -n 1 | tr -d '"' | cut -d, -f2)
      t1=$(cpu_ticks "$pid")
      awk -v t="$t" -v p="$P" -v r="$rep" -v rps="$rps" -v d="$((t1 - t0))" -v hz="$TICK" -v n="$N" \
        'BEGIN { printf "| %s | %d | %d | %.0f | %.2f |\n", t, p, r, rps, (d / hz) * 1e6 / n }'
    done
  done
done
echo
echo "$(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); server on core $SERVER_CORE (GOMAXPROCS=1), redis-benchmark on core $CLIENT_CORE; N=$N C=$C, 64-byte values, ECDSA P-256 certificate"
