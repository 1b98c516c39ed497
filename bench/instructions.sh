#!/usr/bin/env bash
# Instructions per request of the bench server under issue 21's traffic mix, counted by
# valgrind's callgrind (CPU counters are not available in this VM: `perf stat -e instructions`
# says "not supported"). Unlike req/s or CPU time, the count hardly depends on what else the
# machine is doing, so it can compare two versions of the library on a busy machine.
#
#   bash bench/instructions.sh                   # fastify and express, bare and instrumented
#   ADAPTERS=fastify VARIANTS=instrumented REQUESTS=20000 bash bench/instructions.sh
#   VARIANTS=http-only: instrumented without prom-client's default process metrics
#   TRAFFIC=path bash bench/instructions.sh      # GET /users/42 only (default: mix, as bench/wrk-mix.lua)
#
# Per run: the server starts under callgrind (slowly), gets WARMUP requests (JIT warm-up, route
# series resolved), the counters are zeroed, bench/fixed-load.js (outside the measured process)
# sends REQUESTS requests on CONCURRENCY keep-alive connections, and the counters are dumped:
# instructions / REQUESTS, all of the server's threads. The server runs with V8's
# `--single-threaded`: valgrind runs one thread at a time, so with V8's background compiler threads
# on, how much code was optimized by the measured window depended on scheduling (a first try
# counted 60 % of the instructions on the main thread in one run, 49 % in the next); single-threaded,
# compilation and GC happen on the main thread, during the warm-up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ADAPTERS=${ADAPTERS:-"fastify express"}
VARIANTS=${VARIANTS:-"bare instrumented"}
REQUESTS=${REQUESTS:-10000}
WARMUP=${WARMUP:-15000}
CONCURRENCY=${CONCURRENCY:-16}
WINDOWS=${WINDOWS:-1}
NODE_FLAGS=${NODE_FLAGS:-} # e.g. --perf-basic-prof: /tmp/perf-<pid>.map names the JIT code callgrind shows as addresses
# (that flag also has V8 write an isolate log: --logfile keeps it in $OUT rather than the project root)
TRAFFIC=${TRAFFIC:-mix}
PORT=${PORT:-3903}
HOST=127.0.0.1

die() { printf 'instructions: %s\n' "$*" >&2; exit 2; }
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"

OUT="bench/results/instructions-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
# A build of its own: a run takes minutes, and another build of dist/bench must not change it midway.
BUILD="$OUT/build"
node_modules/.bin/tsc -p bench/tsconfig.json --outDir "$BUILD"

# Instructions spent inside V8's compilers (the outermost compile entry points: bytecode, baseline
# and optimizing), inclusive of what they call.
compile_instructions() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk '/Runtime_CompileLazy|Runtime_CompileOptimized|Runtime_CompileBaseline|Runtime_InstallBaselineCode|Runtime_CompileTurbofan|Runtime_CompileMaglev/ {
      gsub(",", "", $1); n += $1 } END { printf "%d", n }'
}

SERVER_PID=""
cleanup() { [[ -n $SERVER_PID ]] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

printf 'traffic %s, %s requests measured after %s, %s connections\n' "$TRAFFIC" "$REQUESTS" "$WARMUP" "$CONCURRENCY" | tee "$OUT/summary.txt"
printf '%-8s %-13s %6s %12s %14s %14s\n' adapter variant window requests instr/request 'w/o compiling' | tee -a "$OUT/summary.txt"
for adapter in $ADAPTERS; do
  for variant in $VARIANTS; do
    yn=yes defaults=yes
    case $variant in
      bare) yn=no ;;
      instrumented) ;;
      http-only) defaults=no ;; # forRoot({ defaultMetrics: { enabled: false } })
      *) die "unknown variant '$variant' (bare, instrumented, http-only)" ;;
    esac
    log="$OUT/server-$adapter-$variant.log"
    BENCH_DEFAULT_METRICS=$defaults valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$adapter-$variant" \
      node --single-threaded --logfile="$OUT/v8-%p.log" $NODE_FLAGS "$BUILD"/bench/app.js --adapter="$adapter" --instrumented="$yn" --port="$PORT" --host="$HOST" \
      >"$log" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 6000; i++)); do
      grep -q '^ready' "$log" && break
      kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "the server exited"; }
      sleep 0.2
    done
    grep -q '^ready' "$log" || die "the server was not ready within 20 minutes (valgrind is slow on a busy machine)"
    node "$BUILD"/bench/fixed-load.js "http://$HOST:$PORT" "$WARMUP" "$CONCURRENCY" "$TRAFFIC" >/dev/null
    # WINDOWS measured windows one after the other: V8 still compiles in the first ones, so the
    # later windows come closer to the steady state.
    for ((w = 1; w <= WINDOWS; w++)); do
      callgrind_control -z "$SERVER_PID" >/dev/null
      node "$BUILD"/bench/fixed-load.js "http://$HOST:$PORT" "$REQUESTS" "$CONCURRENCY" "$TRAFFIC" >/dev/null
      callgrind_control -d "$SERVER_PID" >/dev/null
    done
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
    # The dumps made after zeroing (the final one, at exit, is `$file` without a suffix): their
    # `totals:` lines are the instructions of the measured requests, window by window. Without
    # compiling: less the instructions V8's compilers took (inclusive, by callgrind_annotate),
    # which depend on when V8 decides to optimize, not on the work per request.
    for ((w = 1; w <= WINDOWS; w++)); do
      dump="$OUT/callgrind-$adapter-$variant.$w"
      [[ -s $dump ]] || die "no callgrind dump for $adapter $variant (window $w)"
      total=$(awk '/^totals:/ { print $2 }' "$dump")
      compiling=$(compile_instructions "$dump")
      printf '%-8s %-13s %6s %12d %14.0f %14.0f\n' "$adapter" "$variant" "$w" "$REQUESTS" \
        "$(bc -l <<<"$total / $REQUESTS")" "$(bc -l <<<"($total - $compiling) / $REQUESTS")" | tee -a "$OUT/summary.txt"
    done
  done
done
printf 'instructions: callgrind dumps in %s/ (callgrind_annotate <file> for functions)\n' "$OUT" >&2
