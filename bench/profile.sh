#!/usr/bin/env bash
# CPU profile of the bench server under load, bare and instrumented, with a per-request summary:
# where the server's time goes by package and function, what the library's code costs, and which
# packages/functions grew between bare and instrumented. See bench/README.md.
#
#   ADAPTER=fastify bash bench/profile.sh
#
# Settings: ADAPTER=fastify|express, VARIANTS="bare instrumented", DURATION=10 (profiled seconds),
# WARMUP=5, TRAFFIC=mix (bench/wrk-mix.lua, issue 21's mix) or path (URL_PATH only),
# CONNECTIONS=50 (mix) / 32 (path), URL_PATH=/users/42, PORT=3902, SERVER_CPU=1, WRK_CPU=0,
# INTERVAL=200 (sampling interval, µs), TOP=25.
# The .cpuprofile files stay in bench/results/profile-<timestamp>/ (open them in Chrome DevTools
# or VS Code for flame graphs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ADAPTER=${ADAPTER:-fastify}
VARIANTS=${VARIANTS:-"bare instrumented"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-5}
TRAFFIC=${TRAFFIC:-mix}
URL_PATH=${URL_PATH:-/users/42}
case $TRAFFIC in
  mix) CONNECTIONS=${CONNECTIONS:-50} SCRIPT=bench/wrk-mix.lua URL_PATH=/ ;;
  path) CONNECTIONS=${CONNECTIONS:-32} SCRIPT=bench/wrk-report.lua ;;
  *) printf 'profile: TRAFFIC must be mix or path, not %s\n' "$TRAFFIC" >&2; exit 2 ;;
esac
PORT=${PORT:-3902}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
INTERVAL=${INTERVAL:-200}
TOP=${TOP:-25}
HOST=127.0.0.1

die() { printf 'profile: %s\n' "$*" >&2; exit 2; }

if ! command -v wrk >/dev/null 2>&1; then
  printf 'profile: wrk not found, installing it (apt-get install wrk)\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=()
  [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && SUDO=(sudo)
  "${SUDO[@]}" apt-get update -q >/dev/null || true
  "${SUDO[@]}" apt-get install -y -q wrk >/dev/null || die "could not install wrk"
fi
PIN_SERVER=()
PIN_WRK=()
if command -v taskset >/dev/null 2>&1 && taskset -c "$SERVER_CPU" true 2>/dev/null && taskset -c "$WRK_CPU" true 2>/dev/null; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_WRK=(taskset -c "$WRK_CPU")
fi

node_modules/.bin/tsc -p bench/tsconfig.json
OUT="bench/results/profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

SERVER_PID=""
cleanup() { [[ -n $SERVER_PID ]] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

wait_for() { # pattern logfile
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q "$1" "$2" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$2" >&2; die "the server exited"; }
    sleep 0.1
  done
  cat "$2" >&2
  die "timed out waiting for '$1'"
}

requests_of() { sed -nE 's/^BENCH .*requests=([0-9]+).*/\1/p' "$1" | tail -n 1; }

ARGS=()
for variant in $VARIANTS; do
  yn=no
  [[ $variant == instrumented ]] && yn=yes
  log="$OUT/server-$ADAPTER-$variant.log"
  prof="$OUT/$ADAPTER-$variant.cpuprofile"
  : >"$log"
  BENCH_CPU_PROFILE="$prof" BENCH_CPU_PROFILE_INTERVAL="$INTERVAL" \
    "${PIN_SERVER[@]}" node dist/bench/bench/app.js --adapter="$ADAPTER" --instrumented="$yn" \
    --port="$PORT" --host="$HOST" >"$log" 2>&1 &
  SERVER_PID=$!
  wait_for '^ready' "$log"
  url="http://$HOST:$PORT$URL_PATH"
  "${PIN_WRK[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$SCRIPT" "$url" >"$OUT/wrk-$variant-warmup.txt"
  kill -USR2 "$SERVER_PID"
  wait_for '^profiling' "$log"
  "${PIN_WRK[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$SCRIPT" "$url" >"$OUT/wrk-$variant.txt"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
  [[ -s $prof ]] || { cat "$log" >&2; die "no profile written for $variant"; }
  n=$(requests_of "$OUT/wrk-$variant.txt")
  printf 'profile: %s %s: %s requests in %ss (%s req/s while profiling)\n' "$ADAPTER" "$variant" "$n" "$DURATION" \
    "$((n / DURATION))" >&2
  ARGS+=("$ADAPTER-$variant=$prof:$n")
done

node dist/bench/bench/cpuprofile-top.js --top="$TOP" "${ARGS[@]}" | tee "$OUT/summary.txt"
