#!/usr/bin/env bash
# How a server's CPU per request splits into user and system time, under issue 21's traffic mix.
# Why: bench/instructions.sh counts user-mode instructions only (valgrind does not see the
# kernel), while CPU per request (`npm run bench`, issue 21's 31 µs) is user plus system time. To
# turn an instruction difference into µs, scale by the user share:
#   µs ≈ (instructions over bare ÷ bare instructions) × bare CPU µs per request × user share.
#
#   ROUNDS=6 SECONDS_PER_RUN=10 ADAPTER=fastify bash bench/user-share.sh
#
# Both servers (bare and `forRoot()`) run at once, pinned to SERVER_CPU (1); wrk (-t1 -c50, the mix)
# on WRK_CPU (0) drives one at a time, the order alternating per round, after 5 s of warm-up each.
# Prints, per run: requests, user and system µs per request (utime and stime from /proc/<pid>/stat,
# 10 ms ticks), and the user share; then the median user share of each server.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${ROUNDS:-6}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ADAPTER=${ADAPTER:-fastify}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
read -r PORT_BARE PORT_INSTR <<<"${PORTS:-3921 3922}"
HOST=127.0.0.1

die() { printf 'user-share: %s\n' "$*" >&2; exit 2; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECONDS_PER_RUN =~ ^[1-9][0-9]*$ ]] || die "ROUNDS and SECONDS_PER_RUN must be whole numbers"

node_modules/.bin/tsc -p bench/tsconfig.json
OUT=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

start() { # instrumented(yes|no) port -> pid
  taskset -c "$SERVER_CPU" node dist/bench/bench/app.js --adapter="$ADAPTER" --instrumented="$1" --port="$2" \
    --host="$HOST" >"$OUT/$2.log" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$OUT/$2.log" && break
    kill -0 "$pid" 2>/dev/null || die "the server on port $2 exited: $(cat "$OUT/$2.log")"
    sleep 0.1
  done
  grep -q '^ready' "$OUT/$2.log" || die "the server on port $2 was not ready"
  echo "$pid"
}
PID_BARE=$(start no "$PORT_BARE")
PIDS+=("$PID_BARE")
PID_INSTR=$(start yes "$PORT_INSTR")
PIDS+=("$PID_INSTR")

load() { taskset -c "$WRK_CPU" wrk -t1 -c50 -d"$2"s -s bench/wrk-mix.lua "http://$HOST:$1/" 2>/dev/null; }
load "$PORT_BARE" 5 >/dev/null
load "$PORT_INSTR" 5 >/dev/null

ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
printf '%s, issue 21 mix, %s rounds of %s s, node %s\n' "$ADAPTER" "$ROUNDS" "$SECONDS_PER_RUN" "$(node --version)"
for ((r = 1; r <= ROUNDS; r++)); do
  order="bare instrumented"
  ((r % 2 == 0)) && order="instrumented bare"
  for variant in $order; do
    pid=$PID_BARE port=$PORT_BARE
    [[ $variant == instrumented ]] && pid=$PID_INSTR port=$PORT_INSTR
    read -r u0 s0 < <(ticks "$pid")
    requests=$(load "$port" "$SECONDS_PER_RUN" | awk '/requests in/ { print $1 }')
    read -r u1 s1 < <(ticks "$pid")
    [[ $requests =~ ^[0-9]+$ && $requests -gt 0 ]] || die "wrk reported no requests"
    awk -v r="$r" -v v="$variant" -v n="$requests" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "round %d %-12s %8d requests  user %6.1f us/req  system %5.1f us/req  user share %.3f\n",
        r, v, n, u * 1e6 / hz / n, s * 1e6 / hz / n, u / (u + s) }' | tee -a "$OUT/runs.txt"
  done
done
for variant in bare instrumented; do
  awk -v v="$variant" '$3 == v { print $NF }' "$OUT/runs.txt" | sort -n |
    awk -v v="$variant" '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
      printf "median user share, %s: %.3f (%d runs, %.3f to %.3f)\n", v, m, NR, a[1], a[NR] }'
done
