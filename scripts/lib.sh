# Shared by the benchmark scripts: source it after cd to the repo root.

# The approved Go toolchain (the Makefile says why).
export GOTOOLCHAIN=go1.27.3

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID prints the process's utime+stime in clock ticks (getconf CLK_TCK).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

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

# start_pinned redis|relcache PORT DIR CORE [ARG...] starts a stock
# redis-server or bin/relcache (GOMAXPROCS=1, no source) pinned to CORE,
# with no persistence, in the background, passing the ARGs to relcache
# serve; sets pid and waits until PORT answers.
start_pinned() {
  if [ "$1" = redis ]; then
    taskset -c "$4" redis-server --bind 127.0.0.1 --port "$2" --save '' --appendonly no --dir "$3" >/dev/null 2>&1 &
  else
    GOMAXPROCS=1 taskset -c "$4" bin/relcache serve --addr "127.0.0.1:$2" --admin-addr - \
      --source none --save '' --dir "$(mktemp -d -p "$3")" --log-level warn "${@:5}" >/dev/null 2>&1 &
  fi
  pid=$!
  wait_port "$2"
}
