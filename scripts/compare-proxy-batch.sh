#!/usr/bin/env bash
# Two relcache proxy builds (before and after a change) over the same two
# relcache nodes, the same relation batches sent to each with redis-cli:
# RELCHECK, RELFOLLOWS and RELMULTI of 60 uids (1 to 19 digits, some with
# leading zeros) with their options (BATCH, BITS, WITHTIMES, SINCE/UNTIL),
# each also with a bad uid at the start, the middle or the end (a sign, a
# letter, 20 digits, 2^64, an empty one, a space in one) and with bad
# options. Prints the first difference and exits 1, or says how many
# replies were the same.
#
#   scripts/compare-proxy-batch.sh /tmp/before /tmp/after
#
# Needs redis-cli (Debian: redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ $# -eq 2 ] || { echo "usage: $0 BEFORE AFTER" >&2; exit 2; }
RELCACHE=$2
tmp_dir_cleaned
servers=''
for i in 1 2; do
  alloc_port
  start_pinned relcache "$port" "$tmp" 0-1
  servers+="${servers:+, }\"127.0.0.1:$port:1 node$i\""
done
ports=()
for b in "$1" "$2"; do
  alloc_port
  printf 'listen = "127.0.0.1:%s"\nadmin = "-"\n[[pool]]\nname = "dc1"\nrole = "primary"\nservers = [%s]\n' \
    "$port" "$servers" >"$tmp/proxy$port.toml"
  spawn 0-1 "$b" proxy --config "$tmp/proxy$port.toml" --log-level warn 2>"$tmp/proxy$port.log"
  ports+=("$port")
  wait_port "$port"
done

users=()
for i in $(seq 0 59); do users+=($(((1 + i * 7919) % 100000 + (i % 3) * 1000000000000))); done
for i in "${!users[@]}"; do
  load=(RELLOAD "${users[i]}.following" TIMES)
  for j in $(seq 0 14); do load+=("${users[(i + j * 3 + 1) % 60]}" $((1600000000 + j))); done
  "$REDIS_CLI" -p "${ports[0]}" "${load[@]}" >/dev/null
done
uids=()
for i in "${!users[@]}"; do uids+=("$(printf '%0*d' $((${#users[i]} + i % 3)) "${users[i]}")"); done
uids+=(9999999999999999999 1 7 123456789012 18446744073709551615)

a=${users[3]} x=${users[5]} key=${users[7]}.following
heads=("RELCHECK $a BATCH" "relcheck $a SINCE 1600000003 UNTIL 1600000010 BATCH" "RELCHECK $a"
  "RELCHECK x BATCH" "RELCHECK $a SINCE x BATCH" "RELCHECK $a BATCH BATCH" "RELCHECK $a BIN"
  "RELFOLLOWS $x" "relfollows $x WITHTIMES SINCE 1600000004" "RELFOLLOWS $x UNTIL 1600000002" "RELFOLLOWS -1"
  "RELMULTI $key" "RELMULTI $key BITS" "RELMULTI $key SINCE 1600000005 UNTIL 1600000009" "RELMULTI nokey")
same=0
for head in "${heads[@]}"; do
  for bad in none 0:-1 20:12a 59:+5 10:18446744073709551616 30:00000000000000000000000000042 15: 25:"1 2" 59:99999999999999999999; do
    batch=("${uids[@]:0:60}")
    [ "$bad" = none ] || batch[${bad%%:*}]=${bad#*:}
    read -ra h <<<"$head"
    for n in 60 16 15; do # 15 uids: below where the numbers loop starts
      old=$("$REDIS_CLI" -p "${ports[0]}" "${h[@]}" "${batch[@]:0:n}" 2>&1 | od -An -c)
      new=$("$REDIS_CLI" -p "${ports[1]}" "${h[@]}" "${batch[@]:0:n}" 2>&1 | od -An -c)
      if [ "$old" != "$new" ]; then
        echo "differ: $head (${n} uids, bad $bad)"
        diff <(echo "$old") <(echo "$new") | head -10
        exit 1
      fi
      same=$((same + 1))
    done
  done
done
echo "compare-proxy-batch: $same replies the same from $1 and $2"
