#!/usr/bin/env bash
# Bare against instrumented with the load alternating every second: both servers run at once,
# pinned to the same core, and wrk drives one of them at a time, in short slices, the order
# alternating. On a shared VM whose speed drifts by 10 to 30 % from one 10 s run to the next
# (bench/run.sh's rounds), pairs of slices one second apart see the same machine.
#
#   ADAPTER=fastify SLICES=60 bash bench/interleaved.sh
#
# Settings: ADAPTER=fastify|express, SLICES=60 (pairs of slices), SLICE_SECONDS=1, WARMUP=5 (s of
# load per server first), CONNECTIONS=50, TRAFFIC=mix (bench/wrk-mix.lua) or path (/users/42),
# SERVER_CPU=1, WRK_CPU=0, PORTS="3911 3912", BASELINE=bare, CANDIDATE=instrumented.
# BASELINE and CANDIDATE pick the two servers: bare, instrumented (`PrometheusModule.forRoot()`) or
# http-only (forRoot() without prom-client's process metrics). BASELINE=bare CANDIDATE=bare is an
# A/A run: how far apart two identical servers measure, the noise floor of the figures.
# Prints: the median of the paired slices' throughput ratios (instrumented / bare) with its
# quartiles, the median of the pairs' differences in CPU µs per request, and CPU µs per request of
# each server over all its slices (from /proc/<pid>/stat, clock ticks of 10 ms: over 60 slices of
# ~100 ticks each, about 0.1 % resolution), and the user share of that CPU time (user / (user +
# system)), which turns bench/instructions.sh's user-mode instruction counts into CPU time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ADAPTER=${ADAPTER:-fastify}
SLICES=${SLICES:-60}
SLICE_SECONDS=${SLICE_SECONDS:-1}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-50}
TRAFFIC=${TRAFFIC:-mix}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
read -r PORT_BARE PORT_INSTR <<<"${PORTS:-3911 3912}"
HOST=127.0.0.1

die() { printf 'interleaved: %s\n' "$*" >&2; exit 2; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
case $TRAFFIC in
  mix) SCRIPT=bench/wrk-mix.lua URL_PATH=/ ;;
  path) SCRIPT=bench/wrk-report.lua URL_PATH=/users/42 ;;
  *) die "TRAFFIC must be mix or path" ;;
esac

node_modules/.bin/tsc -p bench/tsconfig.json
OUT=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

start() { # variant(bare|instrumented|http-only) port log -> pid
  local instrumented=yes metrics=yes
  case $1 in
    bare) instrumented=no ;;
    instrumented) ;;
    http-only) metrics=no ;;
    *) die "BASELINE and CANDIDATE must be bare, instrumented or http-only, not $1" ;;
  esac
  BENCH_DEFAULT_METRICS=$metrics taskset -c "$SERVER_CPU" node dist/bench/bench/app.js --adapter="$ADAPTER" \
    --instrumented="$instrumented" --port="$2" --host="$HOST" >"$3" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$3" && { echo "$pid"; return; }
    sleep 0.1
  done
  die "the $1 server did not start: $(cat "$3")"
}

# utime and stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15).
ticks() { local s rest; s=$(<"/proc/$1/stat"); rest=${s##*) }; read -r -a f <<<"$rest"; echo "${f[11]} ${f[12]}"; }

load() { # port seconds -> requests completed
  taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$2"s -s "$SCRIPT" "http://$HOST:$1$URL_PATH" 2>/dev/null |
    awk '/requests in/ { print $1 }'
}

BASELINE=${BASELINE:-bare}
CANDIDATE=${CANDIDATE:-instrumented}
BARE=$(start "$BASELINE" "$PORT_BARE" "$OUT/server-baseline.log")
PIDS+=("$BARE")
INSTR=$(start "$CANDIDATE" "$PORT_INSTR" "$OUT/server-candidate.log")
PIDS+=("$INSTR")
load "$PORT_BARE" "$WARMUP" >/dev/null
load "$PORT_INSTR" "$WARMUP" >/dev/null

: >"$OUT/slices"
for ((i = 1; i <= SLICES; i++)); do
  # Alternating order: whichever runs second in a pair does not always see a warmer machine.
  if ((i % 2)); then order="bare instr"; else order="instr bare"; fi
  for v in $order; do
    if [[ $v == bare ]]; then pid=$BARE port=$PORT_BARE; else pid=$INSTR port=$PORT_INSTR; fi
    read -r u0 s0 < <(ticks "$pid")
    n=$(load "$port" "$SLICE_SECONDS")
    read -r u1 s1 < <(ticks "$pid")
    printf '%s %s %s %s %s\n' "$i" "$v" "$n" "$((u1 + s1 - u0 - s0))" "$((u1 - u0))" >>"$OUT/slices"
  done
done

CLK_TCK=$(getconf CLK_TCK)
node - "$OUT/slices" "$CLK_TCK" "$ADAPTER" "$TRAFFIC" "$SLICES" "$SLICE_SECONDS" "$BASELINE" "$CANDIDATE" <<'EOF'
const [file, hz, adapter, traffic, slices, seconds, baseline, candidate] = process.argv.slice(2);
const rows = require('fs').readFileSync(file, 'utf8').trim().split('\n').map(l => l.split(' '));
const by = { bare: new Map(), instr: new Map() };
const ticksBy = { bare: new Map(), instr: new Map() };
const total = { bare: { n: 0, t: 0, user: 0 }, instr: { n: 0, t: 0, user: 0 } };
for (const [i, v, n, t, user] of rows) {
  by[v].set(i, Number(n));
  ticksBy[v].set(i, Number(t));
  total[v].n += Number(n);
  total[v].t += Number(t);
  total[v].user += Number(user);
}
// Per pair: the difference of the two slices' CPU per request. Its median is robust to the slices a
// neighbour on the host slowed down (they weigh on the totals, as on any mean).
const sliceUs = (v, i) => (ticksBy[v].get(i) / Number(hz) / by[v].get(i)) * 1e6;
const cpuDiffs = [...by.bare.keys()].map(i => sliceUs('instr', i) - sliceUs('bare', i)).sort((a, b) => a - b);
const qd = p => cpuDiffs[Math.min(cpuDiffs.length - 1, Math.floor(p * cpuDiffs.length))];
const ratios = [...by.bare.keys()].map(i => by.instr.get(i) / by.bare.get(i)).sort((a, b) => a - b);
const q = p => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))];
const us = v => (total[v].t / Number(hz) / total[v].n) * 1e6;
const pct = x => `${(x * 100).toFixed(1)}%`;
console.log(`interleaved: ${adapter} ${traffic}, ${slices} pairs of ${seconds} s slices, node ${process.version}`);
console.log(`"bare" below is the baseline server (${baseline}), "instrumented" the candidate (${candidate})`);
console.log(`throughput ratio instrumented/bare, median of the pairs: ${pct(q(0.5))} (quartiles ${pct(q(0.25))} to ${pct(q(0.75))}; min ${pct(ratios[0])}, max ${pct(ratios.at(-1))})`);
console.log(`overall: bare ${total.bare.n} requests, instrumented ${total.instr.n} (ratio ${pct(total.instr.n / total.bare.n)})`);
console.log(`server CPU per request: bare ${us('bare').toFixed(1)} us, instrumented ${us('instr').toFixed(1)} us (+${(us('instr') - us('bare')).toFixed(1)} us)`);
const signed = x => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
console.log(`server CPU per request, median of the pairs' differences: ${signed(qd(0.5))} us (quartiles ${signed(qd(0.25))} to ${signed(qd(0.75))})`);
// bench/instructions.sh counts user-mode instructions only: this share turns them into CPU time.
const share = v => (total[v].user / total[v].t).toFixed(3);
console.log(`user share of server CPU (the rest is system time): bare ${share('bare')}, instrumented ${share('instr')}`);
EOF
