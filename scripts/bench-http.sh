#!/usr/bin/env bash
# The proxy's HTTP/JSON entry against its RESP entry for the same work:
# RELCHECK of one pair, and of one user against 50 others, through one
# `relcache proxy` over two relcache nodes. RESP is driven by
# redis-benchmark (-P 1: one request per round trip, as HTTP/1.1 is), HTTP
# by wrk with keep-alive; both with CLIENTS connections. Prints each tool's
# summary lines. Indicative: client, proxy and nodes share the machine.
#
#   scripts/bench-http.sh
#   CLIENTS=50 SECS=10 scripts/bench-http.sh
#
# Needs redis-benchmark and redis-cli (Debian: redis-tools), wrk (Debian:
# wrk) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CLIENTS=${CLIENTS:-50}
SECS=${SECS:-10}
N=${N:-200000}

for tool in redis-benchmark:redis-tools redis-cli:redis-tools wrk:wrk python3:python3; do
  command -v "${tool%%:*}" >/dev/null || {
    echo "bench-http: ${tool%%:*} not found; install the Debian package ${tool##*:}" >&2; exit 1; }
done

make -s build
tmp_dir_cleaned

n1=$(free_port); n2=$(free_port)
mkdir -p "$tmp/n1" "$tmp/n2"
bin/relcache serve --addr 127.0.0.1:$n1 --admin-addr - --save "" --source none --dir "$tmp/n1" --log-level warn >/dev/null 2>&1 &
bin/relcache serve --addr 127.0.0.1:$n2 --admin-addr - --save "" --source none --dir "$tmp/n2" --log-level warn >/dev/null 2>&1 &
wait_port $n1; wait_port $n2
px=$(free_port); hp=$(free_port)
cat >"$tmp/proxy.toml" <<EOF
listen = "127.0.0.1:$px"
admin = "-"
[http]
listen = "127.0.0.1:$hp"
[[pool]]
name = "dc1"
role = "primary"
servers = ["127.0.0.1:$n1:1 node1", "127.0.0.1:$n2:1 node2"]
server_connections = 1
EOF
bin/relcache proxy --config "$tmp/proxy.toml" --log-level warn >/dev/null 2>&1 &
wait_port $px; wait_port $hp

# 1000 users, each following 50 others (times 1..50).
python3 - >"$tmp/load.txt" <<'EOF'
import random
random.seed(18)
for u in range(1, 1001):
    ms = random.sample([m for m in range(1, 1001) if m != u], 50)
    print("RELLOAD %d.following TIMES %s" % (u, " ".join("%d %d" % (m, t + 1) for t, m in enumerate(ms))))
EOF
redis-cli -p $px <"$tmp/load.txt" >/dev/null

bs=$(seq 2 51 | tr '\n' ' ')
bcsv=$(seq -s, 2 51)
echo "## RELCHECK 1 2 (one pair), $CLIENTS connections"
redis-benchmark -p $px -c $CLIENTS -n $N -q RELCHECK 1 2 2>/dev/null | tr '\r' '\n' | grep "requests per second"
wrk -t2 -c$CLIENTS -d${SECS}s --latency "http://127.0.0.1:$hp/v1/relation?a=1&b=2" | grep -E 'Requests/sec|50%|99%|Transfer'
echo "## RELCHECK 1 <50 uids>, $CLIENTS connections"
# shellcheck disable=SC2086
redis-benchmark -p $px -c $CLIENTS -n $((N / 4)) -q RELCHECK 1 $bs 2>/dev/null | tr '\r' '\n' | grep "requests per second"
wrk -t2 -c$CLIENTS -d${SECS}s --latency "http://127.0.0.1:$hp/v1/relation?a=1&b=$bcsv" | grep -E 'Requests/sec|50%|99%|Transfer'
echo "## the same over HTTP with Accept-Encoding: gzip (a 50-code reply is under 512 bytes: sent as is)"
wrk -t2 -c$CLIENTS -d${SECS}s --latency -H 'Accept-Encoding: gzip' "http://127.0.0.1:$hp/v1/relation?a=1&b=$bcsv" | grep -E 'Requests/sec|50%|99%'
