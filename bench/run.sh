#!/usr/bin/env bash
# Load test: bare NestJS app vs the same app with PrometheusModule.forRoot(), on Express and Fastify.
# See bench/README.md. Quick smoke test:  ROUNDS=1 DURATION=2 bash bench/run.sh
#
# Settings (environment):
#   ROUNDS=5          paired rounds per adapter (each = one bare + one instrumented run, order alternating)
#   DURATION=10       seconds of measured load per run
#   WARMUP=2          seconds of unmeasured load per run, before the measurement (JIT warm-up)
#   CONNECTIONS=32    wrk connections (-c)
#   THREADS=1         wrk threads (-t)
#   ADAPTERS="express fastify"
#   URL_PATH=/users/42
#   TRAFFIC="path mix"  path: every request to URL_PATH; mix: bench/wrk-mix.lua (issue 21: 60% GET /users/:id,
#                     20% POST /orders with a 201-byte JSON body, 20% GET /health)
#   MIX_CONNECTIONS=50 / MIX_WARMUP=5   wrk -c and warm-up seconds of the mix runs
#   PORT=3901         the server listens on 127.0.0.1:PORT
#   SERVER_CPU=1      core the server is pinned to (taskset -c)
#   WRK_CPU=0         core wrk is pinned to
#   TARGET=0.95       pass mark for the median paired throughput ratio (instrumented / bare)
#   NODE_ARGS=        extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
# Always exits 0 once the runs complete (PASS/FAIL is printed); exits non-zero only if the
# benchmark itself cannot run (build failure, server does not start, wrk cannot be installed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
ADAPTERS=${ADAPTERS:-"express fastify"}
URL_PATH=${URL_PATH:-/users/42}
TRAFFIC=${TRAFFIC:-"path mix"}
MIX_CONNECTIONS=${MIX_CONNECTIONS:-50}
MIX_WARMUP=${MIX_WARMUP:-5}
PORT=${PORT:-3901}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
TARGET=${TARGET:-0.95}
NODE_ARGS=${NODE_ARGS:-}
HOST=127.0.0.1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 2; }

for v in ROUNDS DURATION WARMUP CONNECTIONS THREADS PORT MIX_CONNECTIONS MIX_WARMUP; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1)) || die "ROUNDS and DURATION must be at least 1"
for a in $ADAPTERS; do [[ $a == express || $a == fastify ]] || die "unknown adapter '$a'"; done
for t in $TRAFFIC; do [[ $t == path || $t == mix ]] || die "unknown TRAFFIC '$t' (path or mix)"; done

# --- tools -------------------------------------------------------------------------------------
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if ! command -v wrk >/dev/null 2>&1; then
  log "bench: wrk not found, installing it (apt-get install wrk)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q >/dev/null || log "bench: apt-get update failed, trying the install anyway"
  as_root apt-get install -y -q wrk >/dev/null || die "could not install wrk"
  command -v wrk >/dev/null 2>&1 || die "wrk still not found after installing it"
fi

PIN_SERVER=()
PIN_WRK=()
if command -v taskset >/dev/null 2>&1 && taskset -c "$SERVER_CPU" true 2>/dev/null && taskset -c "$WRK_CPU" true 2>/dev/null \
  && [[ $SERVER_CPU != "$WRK_CPU" ]]; then
  PIN_SERVER=(taskset -c "$SERVER_CPU")
  PIN_WRK=(taskset -c "$WRK_CPU")
  PINNING="server on core $SERVER_CPU, wrk on core $WRK_CPU"
else
  PINNING="none (taskset missing or cores $SERVER_CPU/$WRK_CPU not usable): results are less reliable"
  log "bench: WARNING: not pinning: $PINNING"
fi

if [[ ! -x node_modules/.bin/tsc ]]; then
  log "bench: node_modules missing, running npm ci"
  npm ci --no-audit --no-fund >&2
fi

log "bench: building (tsc -p bench/tsconfig.json)"
node_modules/.bin/tsc -p bench/tsconfig.json
APP=dist/bench/bench/app.js
SUMMARIZE=dist/bench/bench/summarize.js

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=bench/results
RAW="$RESULTS_DIR/$STAMP"          # raw wrk output, server logs, /metrics scrape
RESULT_JSON="$RESULTS_DIR/$STAMP.json"
RUNS="$RAW/runs.jsonl"
mkdir -p "$RAW"
: >"$RUNS"
CLK_TCK=$(getconf CLK_TCK)

# --- server ------------------------------------------------------------------------------------
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() { # adapter instrumented(yes|no) logfile
  local adapter=$1 instrumented=$2 logfile=$3
  : >"$logfile"
  # shellcheck disable=SC2086
  "${PIN_SERVER[@]}" node $NODE_ARGS "$APP" --adapter="$adapter" --instrumented="$instrumented" \
    --port="$PORT" --host="$HOST" >"$logfile" 2>&1 &
  SERVER_PID=$! # taskset execs node: this is the server's own pid
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$logfile" && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$logfile" >&2
      SERVER_PID=""
      die "the $adapter server (instrumented=$instrumented) exited before it was ready (is port $PORT in use?)"
    fi
    sleep 0.1
  done
  cat "$logfile" >&2
  die "the $adapter server (instrumented=$instrumented) was not ready within 30 s"
}

stop_server() { # [adapter round variant logfile]: records the event-loop delay the server printed at exit
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  [[ $# -eq 4 ]] || return 0
  local line
  line=$(grep '^eventloop ' "$4" | tail -n 1) || return 0
  line=${line#eventloop }
  log "    event loop delay (warm-up + measured): $line"
  printf '{"type":"eventloop","adapter":"%s","traffic":"%s","round":%d,"variant":"%s","delay":{%s}}\n' \
    "$1" "$RUN_TRAFFIC" "$2" "$3" "$(sed -E 's/([a-z0-9_]+)=([-0-9.]+)/"\1":\2/g; s/ /,/g' <<<"$line")" >>"$RUNS"
}

cpu_ticks() { # utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15)
  local stat rest
  stat=$(<"/proc/$1/stat")
  rest=${stat##*) } # the command name may hold spaces: fields after it start at field 3
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

core_ticks() { # core -> "busy idle steal" clock ticks of that core so far (/proc/stat)
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9 }' /proc/stat
}

children_ticks() { # CPU time of this shell's finished children (bash's `times`), in clock ticks
  # `times` must run in this shell itself, not in a subshell (which has no children of its own).
  times >"$RAW/.times"
  awk -v hz="$CLK_TCK" 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
    printf "%d", t * hz + 0.5
  }' "$RAW/.times"
}

# The traffic of the current runs (set per TRAFFIC in the loop below).
RUN_TRAFFIC=path RUN_CONNECTIONS=$CONNECTIONS RUN_WARMUP=$WARMUP RUN_SCRIPT=bench/wrk-report.lua RUN_PATH=$URL_PATH
set_traffic() { # path|mix
  RUN_TRAFFIC=$1
  if [[ $1 == mix ]]; then
    RUN_CONNECTIONS=$MIX_CONNECTIONS RUN_WARMUP=$MIX_WARMUP RUN_SCRIPT=bench/wrk-mix.lua RUN_PATH=/
  else
    RUN_CONNECTIONS=$CONNECTIONS RUN_WARMUP=$WARMUP RUN_SCRIPT=bench/wrk-report.lua RUN_PATH=$URL_PATH
  fi
}

run_wrk() { # seconds outfile -> prints the BENCH line as a JSON object
  local seconds=$1 out=$2
  "${PIN_WRK[@]}" wrk -t"$THREADS" -c"$RUN_CONNECTIONS" -d"${seconds}s" --latency -s "$RUN_SCRIPT" \
    "http://$HOST:$PORT$RUN_PATH" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
  local line
  line=$(grep '^BENCH ' "$out" | tail -n 1) || { cat "$out" >&2; die "no BENCH line in wrk's output"; }
  line=${line#BENCH }
  # "a=1.0 b=2.0" -> {"a":1.0,"b":2.0}
  printf '{%s}' "$(sed -E 's/([a-z0-9_]+)=([-0-9.]+)/"\1":\2/g; s/ /,/g' <<<"$line")"
}

json_num() { # json key -> value (flat objects of numbers only)
  sed -E "s/.*\"$2\":([-0-9.]+).*/\1/" <<<"$1"
}

scrape_requests_total() { # adapter round warmup_requests measured_requests
  local adapter=$1 round=$2 warm=$3 measured=$4 file="$RAW/metrics-$1-$RUN_TRAFFIC.txt"
  if command -v curl >/dev/null 2>&1; then
    curl -sf "http://$HOST:$PORT/metrics" >"$file" || die "could not scrape /metrics"
  else
    node -e "fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))" \
      "http://$HOST:$PORT/metrics" >"$file" || die "could not scrape /metrics"
  fi
  log "  /metrics of the last instrumented $adapter server ($RUN_TRAFFIC traffic, round $round):"
  grep '^http_requests_total' "$file" | sed 's/^/    /' >&2 || log "    (no http_requests_total line!)"
  local sum
  sum=$(awk '/^http_requests_total/ { s += $NF } END { printf "%d", s }' "$file")
  log "    sum $sum; wrk completed $warm (warm-up) + $measured (measured) = $((warm + measured))" \
    "(the server may also have answered up to $RUN_CONNECTIONS requests in flight when each wrk run stopped)"
  printf '{"type":"metrics","adapter":"%s","traffic":"%s","round":%d,"file":"%s","sum":%d,"wrk_requests":%d}\n' \
    "$adapter" "$RUN_TRAFFIC" "$round" "$file" "$sum" $((warm + measured)) >>"$RUNS"
}

one_run() { # adapter round position variant(bare|instrumented)
  local adapter=$1 round=$2 position=$3 variant=$4
  local yn=no
  [[ $variant == instrumented ]] && yn=yes
  local tag="$adapter-$RUN_TRAFFIC-r$round-$variant"
  start_server "$adapter" "$yn" "$RAW/server-$tag.log"
  local pid=$SERVER_PID warm measured t0 t1 w0 w1 rss c0 c1 s0 s1 k0 k1
  if ((RUN_WARMUP > 0)); then
    warm=$(run_wrk "$RUN_WARMUP" "$RAW/wrk-$tag-warmup.txt")
  else
    warm='{"requests":0}'
  fi
  read -r -a s0 <<<"$(core_ticks "$SERVER_CPU")"
  read -r -a k0 <<<"$(core_ticks "$WRK_CPU")"
  children_ticks >"$RAW/.c0"
  t0=$(cpu_ticks "$pid")
  w0=$(date +%s%N)
  measured=$(run_wrk "$DURATION" "$RAW/wrk-$tag.txt")
  w1=$(date +%s%N)
  t1=$(cpu_ticks "$pid")
  children_ticks >"$RAW/.c1"
  read -r -a s1 <<<"$(core_ticks "$SERVER_CPU")"
  read -r -a k1 <<<"$(core_ticks "$WRK_CPU")"
  rss=$(rss_kb "$pid")
  # Noise: what ran on the two cores besides the server and wrk (others' busy time, hypervisor steal).
  c0=$(<"$RAW/.c0")
  c1=$(<"$RAW/.c1")
  local server_ticks=$((t1 - t0)) wrk_ticks=$((c1 - c0))
  local cores
  cores=$(printf '{"server_core":{"busy":%d,"idle":%d,"steal":%d,"others":%d},"wrk_core":{"busy":%d,"idle":%d,"steal":%d,"others":%d}}' \
    $((s1[0] - s0[0])) $((s1[1] - s0[1])) $((s1[2] - s0[2])) $((s1[0] - s0[0] - server_ticks)) \
    $((k1[0] - k0[0])) $((k1[1] - k0[1])) $((k1[2] - k0[2])) $((k1[0] - k0[0] - wrk_ticks)))
  printf '{"type":"run","adapter":"%s","traffic":"%s","connections":%d,"round":%d,"position":%d,"variant":"%s","cpu_ticks":%d,"wrk_cpu_ticks":%d,"clk_tck":%d,"wall_ns":%d,"rss_kb":%d,"cores":%s,"warmup":%s,"wrk":%s}\n' \
    "$adapter" "$RUN_TRAFFIC" "$RUN_CONNECTIONS" "$round" "$position" "$variant" "$server_ticks" "$wrk_ticks" "$CLK_TCK" $((w1 - w0)) "${rss:-0}" "$cores" \
    "$warm" "$measured" >>"$RUNS"

  local req dur p99 errs
  req=$(json_num "$measured" requests)
  dur=$(json_num "$measured" duration_us)
  p99=$(json_num "$measured" p99_us)
  errs=$(awk -v m="$measured" 'BEGIN { n = split(m, a, /[,{}]/); s = 0; for (i = 1; i <= n; i++) if (a[i] ~ /"err_/) { split(a[i], kv, ":"); s += kv[2] } print s }')
  awk -v a="$adapter $RUN_TRAFFIC" -v r="$round" -v R="$ROUNDS" -v v="$variant" -v req="$req" -v dur="$dur" -v p99="$p99" \
    -v ticks="$server_ticks" -v hz="$CLK_TCK" -v wall=$((w1 - w0)) -v errs="$errs" \
    -v so=$((s1[0] - s0[0] - server_ticks)) -v ss=$((s1[2] - s0[2])) -v ko=$((k1[0] - k0[0] - wrk_ticks)) -v ks=$((k1[2] - k0[2])) 'BEGIN {
      cpu = ticks / hz
      w = wall / 1e9 * hz
      noise = 100 * (so + ss) / w
      noise2 = 100 * (ko + ks) / w
      # The server core is busy all along, so its figure is exact; the wrk core idles between
      # bursts and its tick-sampled figure is rough (it can even come out negative).
      if (noise > 5) warn = sprintf("  NOISY: other processes/steal took %.0f%% of the server core", noise)
      if (noise2 > 20) warn = warn sprintf("  (and roughly %.0f%% of the wrk core)", noise2)
      per = (req > 0) ? cpu * 1e6 / req : 0
      warn = warn ((errs > 0) ? "  WARNING: " errs " wrk errors (non-2xx, timeouts, socket errors)" : "")
      printf "  [%s %d/%d] %-12s %9.0f req/s  p99 %6.2f ms  cpu %6.1f us/req  (server cpu %3.0f%% of a core)%s\n",
        a, r, R, v, req / (dur / 1e6), p99 / 1000, per, 100 * cpu / (wall / 1e9), warn > "/dev/stderr"
    }'

  if [[ $variant == instrumented && $round -eq $ROUNDS ]]; then
    scrape_requests_total "$adapter" "$round" "$(json_num "$warm" requests | cut -d. -f1)" "$(json_num "$measured" requests | cut -d. -f1)"
  fi
  stop_server "$adapter" "$round" "$variant" "$RAW/server-$tag.log"
}

# --- runs --------------------------------------------------------------------------------------
n_adapters=$(wc -w <<<"$ADAPTERS")
per_round=0
for t in $TRAFFIC; do
  set_traffic "$t"
  per_round=$((per_round + 2 * (RUN_WARMUP + DURATION + 1)))
  log "bench: $t traffic: ${RUN_WARMUP}s warm-up + ${DURATION}s measured per run," \
    "wrk -t$THREADS -c$RUN_CONNECTIONS -s $RUN_SCRIPT http://$HOST:$PORT$RUN_PATH"
done
log "bench: $ROUNDS round(s) x $n_adapters adapter(s) x traffic ($TRAFFIC); pinning: $PINNING"
log "bench: about $((ROUNDS * n_adapters * per_round)) s; raw output in $RAW/"
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)

for traffic in $TRAFFIC; do
  for adapter in $ADAPTERS; do
    set_traffic "$traffic"
    log "bench: $adapter, $traffic traffic"
    for ((round = 1; round <= ROUNDS; round++)); do
      # Alternate which variant goes first, so that drift (thermal, neighbours) cancels out in the pairs.
      if ((round % 2 == 1)); then order=(bare instrumented); else order=(instrumented bare); fi
      one_run "$adapter" "$round" 1 "${order[0]}"
      one_run "$adapter" "$round" 2 "${order[1]}"
    done
  done
done

# --- summary -----------------------------------------------------------------------------------
export BENCH_STARTED="$START_ISO" BENCH_ROUNDS="$ROUNDS" BENCH_DURATION="$DURATION" BENCH_WARMUP="$WARMUP" \
  BENCH_CONNECTIONS="$CONNECTIONS" BENCH_MIX_CONNECTIONS="$MIX_CONNECTIONS" BENCH_MIX_WARMUP="$MIX_WARMUP" BENCH_TRAFFIC="$TRAFFIC" BENCH_THREADS="$THREADS" BENCH_URL="http://$HOST:$PORT$URL_PATH" \
  BENCH_PINNING="$PINNING" BENCH_TARGET="$TARGET" BENCH_NODE_ARGS="$NODE_ARGS" \
  BENCH_WRK_VERSION="$(wrk --version 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)" \
  BENCH_GIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -z $(git status --porcelain -- lib 2>/dev/null) ]] || echo '+uncommitted-lib-changes')"
rm -f "$RAW/.times" "$RAW/.c0" "$RAW/.c1"
node "$SUMMARIZE" "$RUNS" "$RESULT_JSON"
exit 0
