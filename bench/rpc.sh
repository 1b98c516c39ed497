#!/usr/bin/env bash
# Load test of microservice message handlers: a bare NestJS TCP microservice vs the same one with
# PrometheusModule.forRoot({ port }). See bench/README.md. Quick smoke test:
#   ROUNDS=1 DURATION=2 WARMUP=1 bash bench/rpc.sh
#
# Settings (environment):
#   ROUNDS=5          paired rounds (each = one bare + one instrumented run, order alternating)
#   DURATION=10       seconds of measured load per run
#   WARMUP=2          seconds of unmeasured load per run, before the measurement (JIT warm-up)
#   CONCURRENCY=64    messages kept in flight by the load generator (one ClientProxy, one TCP connection)
#   PORT=3911         the microservice listens on 127.0.0.1:PORT
#   METRICS_PORT=3912 the instrumented server's metrics server (GET /metrics)
#   SERVER_CPU=1      core the server is pinned to (taskset -c)
#   LOAD_CPU=0        core the load generator is pinned to
#   NODE_ARGS=        extra node flags for the server
# Exits 0 once the runs complete and the metrics check passes; 2 if the benchmark cannot run
# (taskset missing or cores not usable, bad settings, build failure, server does not start);
# 1 if the load generator saw failed messages or the metrics check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-3911}
METRICS_PORT=${METRICS_PORT:-3912}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
NODE_ARGS=${NODE_ARGS:-}
HOST=127.0.0.1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench:rpc: $*"; exit 2; }
fail() { log "bench:rpc: $*"; exit 1; }

for v in ROUNDS DURATION WARMUP CONCURRENCY PORT METRICS_PORT SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1 && CONCURRENCY >= 1)) || die "ROUNDS, DURATION and CONCURRENCY must be at least 1"
((PORT != METRICS_PORT)) || die "PORT and METRICS_PORT must differ"
[[ $SERVER_CPU != "$LOAD_CPU" ]] || die "SERVER_CPU and LOAD_CPU must differ"
[[ -r /proc/stat ]] || die "needs Linux (/proc)"

# --- tools -------------------------------------------------------------------------------------
command -v taskset >/dev/null 2>&1 || die "taskset not found (util-linux): the server and the load generator must be pinned"
taskset -c "$SERVER_CPU" true 2>/dev/null || die "cannot pin to core $SERVER_CPU (SERVER_CPU)"
taskset -c "$LOAD_CPU" true 2>/dev/null || die "cannot pin to core $LOAD_CPU (LOAD_CPU)"
PIN_SERVER=(taskset -c "$SERVER_CPU")
PIN_LOAD=(taskset -c "$LOAD_CPU")

if [[ ! -x node_modules/.bin/tsc ]]; then
  log "bench:rpc: node_modules missing, running npm ci"
  npm ci --no-audit --no-fund >&2
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=bench/results
RAW="$RESULTS_DIR/rpc-$STAMP" # load generator output, server logs, /metrics scrape
RESULT_JSON="$RESULTS_DIR/rpc-$STAMP.json"
RUNS="$RAW/runs.jsonl"
# The build goes into the run's own directory, not dist/bench/: `npm run build` empties dist/, and
# must not pull the files from under a running benchmark. Removed at exit.
BUILD="$RAW/build"
mkdir -p "$RAW"
: >"$RUNS"
CLK_TCK=$(getconf CLK_TCK)

SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$BUILD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "bench:rpc: building (tsc -p bench/tsconfig.json --outDir $BUILD)"
node_modules/.bin/tsc -p bench/tsconfig.json --outDir "$BUILD" || die "build failed"
APP=$BUILD/bench/rpc-app.js
LOAD=$BUILD/bench/rpc-load.js
SUMMARIZE=$BUILD/bench/rpc-summarize.js

# --- server ------------------------------------------------------------------------------------

start_server() { # instrumented(yes|no) logfile
  local instrumented=$1 logfile=$2
  : >"$logfile"
  # shellcheck disable=SC2086
  "${PIN_SERVER[@]}" node $NODE_ARGS "$APP" --instrumented="$instrumented" --port="$PORT" \
    --metrics-port="$METRICS_PORT" --host="$HOST" >"$logfile" 2>&1 &
  SERVER_PID=$! # taskset execs node: this is the server's own pid
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$logfile" && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$logfile" >&2
      SERVER_PID=""
      die "the server (instrumented=$instrumented) exited before it was ready (is port $PORT or $METRICS_PORT in use?)"
    fi
    sleep 0.1
  done
  cat "$logfile" >&2
  die "the server (instrumented=$instrumented) was not ready within 30 s"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

scrape_metrics() { # round sent
  local round=$1 sent=$2 file="$RAW/metrics.txt" url="http://$HOST:$METRICS_PORT/metrics"
  if command -v curl >/dev/null 2>&1; then
    curl -sf "$url" >"$file" || fail "could not scrape $url"
  else
    node -e "fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))" "$url" >"$file" \
      || fail "could not scrape $url"
  fi
  local sum
  sum=$(awk '/^rpc_requests_total\{/ && /pattern="sum"/ { s += $NF } END { printf "%d", s }' "$file")
  printf '{"type":"metrics","round":%d,"file":"%s","rpc_requests_total":%d,"sent":%d,"lines":[%s]}\n' \
    "$round" "$file" "$sum" "$sent" \
    "$(grep '^rpc_requests_total{' "$file" | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' | paste -sd, -)" >>"$RUNS"
}

one_run() { # round position variant(bare|instrumented)
  local round=$1 position=$2 variant=$3
  local yn=no
  [[ $variant == instrumented ]] && yn=yes
  local tag="r$round-$variant"
  start_server "$yn" "$RAW/server-$tag.log"
  local pid=$SERVER_PID
  printf '  [%d/%d] %-12s' "$round" "$ROUNDS" "$variant" >&2
  local out="$RAW/load-$tag.txt" rc=0
  "${PIN_LOAD[@]}" node "$LOAD" --server-pid="$pid" --host="$HOST" --port="$PORT" --concurrency="$CONCURRENCY" \
    --duration="$DURATION" --warmup="$WARMUP" --server-cpu="$SERVER_CPU" --load-cpu="$LOAD_CPU" \
    --clk-tck="$CLK_TCK" >"$out" || rc=$?
  local line
  line=$(grep '^RPC ' "$out" | tail -n 1) || true
  [[ -n $line ]] || { cat "$out" >&2; die "no RPC line from the load generator"; }
  line=${line#RPC }
  local rss
  rss=$(rss_kb "$pid")
  printf '{"type":"run","round":%d,"position":%d,"variant":"%s","rss_kb":%d,"load":%s}\n' \
    "$round" "$position" "$variant" "${rss:-0}" "$line" >>"$RUNS"
  ((rc == 0)) || fail "the load generator reported failed messages (round $round, $variant): see $out"
  # The last instrumented run of the benchmark: scrape its metrics before stopping it.
  if [[ $variant == instrumented && $round -eq $ROUNDS ]]; then
    scrape_metrics "$round" "$(sed -E 's/.*"sent":([0-9]+).*/\1/' <<<"$line")"
  fi
  stop_server
}

# --- runs --------------------------------------------------------------------------------------
log "bench:rpc: $ROUNDS round(s), ${WARMUP}s warm-up + ${DURATION}s measured per run, $CONCURRENCY messages in flight" \
  "over TCP to $HOST:$PORT; server on core $SERVER_CPU, load generator on core $LOAD_CPU"
log "bench:rpc: about $((ROUNDS * 2 * (WARMUP + DURATION + 2))) s; raw output in $RAW/"
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)

for ((round = 1; round <= ROUNDS; round++)); do
  # Alternate which variant goes first, so that drift (thermal, neighbours) cancels out in the pairs.
  if ((round % 2 == 1)); then order=(bare instrumented); else order=(instrumented bare); fi
  one_run "$round" 1 "${order[0]}"
  one_run "$round" 2 "${order[1]}"
done

# --- summary -----------------------------------------------------------------------------------
export BENCH_STARTED="$START_ISO" BENCH_ROUNDS="$ROUNDS" BENCH_DURATION="$DURATION" BENCH_WARMUP="$WARMUP" \
  BENCH_CONCURRENCY="$CONCURRENCY" BENCH_TARGET_ADDR="$HOST:$PORT" BENCH_NODE_ARGS="$NODE_ARGS" \
  BENCH_PINNING="server on core $SERVER_CPU, load generator on core $LOAD_CPU" \
  BENCH_GIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -z $(git status --porcelain -- lib 2>/dev/null) ]] || echo '+uncommitted-lib-changes')"
node "$SUMMARIZE" "$RUNS" "$RESULT_JSON"
