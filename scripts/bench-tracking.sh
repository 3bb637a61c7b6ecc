#!/usr/bin/env bash
# bench-tracking.sh: what client tracking costs on GET. The server runs
# pinned to core 0 (taskset -c 0, so relcache has GOMAXPROCS 1), the load
# generator to core 1; server CPU per request is utime+stime of the server
# process over the test / requests. Each test is GET over KEYS random keys
# from CLIENTS connections, with tracking off, and on (--enable-tracking,
# RESP3): each connection reads every key many times, so it has all KEYS
# keys in the tracking table for most of the test. Off and on alternate in
# one run, twice, for pipeline 1 and 16; then the same for Valkey if
# VALKEY is set. Needs a machine with at least 2 cores to itself: on a
# shared one, PIN=0 pins nothing and runs relcache with GOMAXPROCS=1 (one
# core's worth of parallelism, wherever the scheduler puts it).
#
#   scripts/bench-tracking.sh            # relcache from bin/relcache
#   RELCACHE=bin/relcache BENCH=../shared/peers/valkey-benchmark \
#     VALKEY=../shared/peers/valkey-server scripts/bench-tracking.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RELCACHE=${RELCACHE:-bin/relcache}
BENCH=${BENCH:-../shared/peers/valkey-benchmark}
VALKEY=${VALKEY:-}
CLIENTS=${CLIENTS:-10}
KEYS=${KEYS:-10000}
N1=${N1:-1000000}   # requests per test at pipeline 1
N16=${N16:-4000000} # at pipeline 16
PORT=${PORT:-7390}
PIN=${PIN:-1}
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

. scripts/lib.sh # cpu_ticks, wait_port

# on CORE CMD...: CMD pinned to CORE, or not at all with PIN=0.
on() {
	local core=$1
	shift
	if [ "$PIN" = 1 ]; then taskset -c "$core" "$@"; else "$@"; fi
}

# start CORE CMD...: on, in the background; $! is the command's own pid.
start() {
	local core=$1
	shift
	if [ "$PIN" = 1 ]; then taskset -c "$core" "$@" & else "$@" & fi
}

# send CMD: an inline command to the server on PORT; prints the reply.
send() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf '%s\r\nQUIT\r\n' "$1" >&3
	timeout 2 cat <&3 | tr -d '\r' || true
	exec 3<&-
}

# peak: the largest tracking table seen, polled twice a second while the
# test runs (connections that leave take their entries with them).
peak() {
	local keys=0 items=0 k i
	while [ ! -e "$WORK/done" ]; do
		read -r k i < <(send "INFO stats" | awk -F: '$1 == "tracking_total_keys" {k = $2} $1 == "tracking_total_items" {i = $2} END {print k + 0, i + 0}')
		[ "${k:-0}" -gt "$keys" ] && keys=$k
		[ "${i:-0}" -gt "$items" ] && items=$i
		sleep 0.5
	done
	echo "$keys $items" >"$WORK/peak"
}

# load: an empty keyspace and tracking table, then the KEYS keys.
load() {
	send FLUSHALL >/dev/null
	on 1 "$BENCH" -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -n "$((KEYS * 20))" -r "$KEYS" -d 64 -P 16 -t set -q >/dev/null
}

# measure NAME PID PIPELINE MODE: one test; prints a table row.
measure() {
	local name=$1 pid=$2 p=$3 mode=$4 n=$N1 flags=(-3)
	[ "$p" = 16 ] && n=$N16
	[ "$mode" = on ] && flags+=(--enable-tracking)
	local before after
	load
	rm -f "$WORK/done"
	peak &
	before=$(cpu_ticks "$pid")
	on 1 "$BENCH" -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -n "$n" -r "$KEYS" -d 64 \
		-t get -P "$p" "${flags[@]}" --csv >"$WORK/out.csv"
	after=$(cpu_ticks "$pid")
	touch "$WORK/done"
	wait %peak
	local rps
	rps=$(awk -F'","' 'NR == 2 {print $2}' "$WORK/out.csv")
	local cpu_us
	cpu_us=$(awk -v a="$after" -v b="$before" -v t="$TCK" -v n="$n" 'BEGIN {printf "%.3f", (a - b) / t * 1e6 / n}')
	local keys items
	read -r keys items <"$WORK/peak"
	echo "| $name | $p | $mode | $n | ${rps%.*} | $cpu_us | $keys | $items |"
}

# bench NAME PID: off/on twice at each pipeline, each test on a fresh
# keyspace and tracking table.
bench() {
	local name=$1 pid=$2
	for p in 1 16; do
		for round in 1 2; do
			measure "$name" "$pid" "$p" off
			measure "$name" "$pid" "$p" on
		done
	done
}

echo "$(date -u +%FT%TZ) $(nproc) cores, $(uname -r), $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2)"
if [ "$PIN" = 1 ]; then
	echo "clients $CLIENTS, keys $KEYS, values 64 bytes, GET; server on core 0, $(basename "$BENCH") on core 1"
else
	echo "clients $CLIENTS, keys $KEYS, values 64 bytes, GET; nothing pinned, relcache GOMAXPROCS=1"
fi
echo
echo "| server | pipeline | tracking | requests | GET/s | server CPU µs/GET | peak tracking_total_keys | peak tracking_total_items |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"

GOMAXPROCS=1 start 0 "$RELCACHE" serve --addr "127.0.0.1:$PORT" --admin-addr - --source none --save "" \
	--dir "$WORK" --log-level warn
RPID=$!
wait_port "$PORT"
bench relcache "$RPID"
kill "$RPID"
wait "$RPID" || true

if [ -n "$VALKEY" ]; then
	start 0 "$VALKEY" --port "$PORT" --save "" --appendonly no --io-threads 1 --dir "$WORK" --daemonize no \
		--loglevel warning
	VPID=$!
	wait_port "$PORT"
	bench valkey "$VPID"
	kill "$VPID"
	wait "$VPID" || true
fi
