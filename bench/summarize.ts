import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/**
 * Reads the runs bench/run.sh recorded (JSON lines), pairs bare and instrumented runs of each
 * round, prints the summary table and writes the whole result to a JSON file.
 *
 *   node dist/bench/bench/summarize.js <runs.jsonl> <result.json>
 */

type Variant = 'bare' | 'instrumented';

/** What bench/wrk-report.lua prints (latencies in µs). */
interface WrkStats {
  requests: number;
  duration_us: number;
  bytes: number;
  err_connect: number;
  err_read: number;
  err_write: number;
  err_status: number;
  err_timeout: number;
  lat_mean_us: number;
  lat_max_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
}

/** Clock ticks a core spent during the measurement; `others`: busy time not spent by the server (or wrk). */
interface CoreTicks {
  busy: number;
  idle: number;
  steal: number;
  others: number;
}

interface RunRecord {
  type: 'run';
  adapter: string;
  /** `path` (one URL, the default) or `mix` (bench/wrk-mix.lua); absent in results of older runs. */
  traffic?: string;
  connections?: number;
  round: number;
  position: number;
  variant: Variant;
  cpu_ticks: number;
  wrk_cpu_ticks?: number;
  clk_tck: number;
  cores?: { server_core: CoreTicks; wrk_core: CoreTicks };
  wall_ns: number;
  rss_kb: number;
  warmup: WrkStats;
  wrk: WrkStats;
}

interface MetricsRecord {
  type: 'metrics';
  adapter: string;
  traffic?: string;
  round: number;
  file: string;
  sum: number;
  wrk_requests: number;
}

/** The event loop's delay over a run (warm-up included), printed by the server at exit, in ms. */
interface EventLoopRecord {
  type: 'eventloop';
  adapter: string;
  traffic?: string;
  round: number;
  variant: Variant;
  delay: { p50_ms: number; p99_ms: number; max_ms: number };
}

interface RunSummary {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  cpu_us_per_req: number;
  server_cpu_util: number;
  requests: number;
  errors: number;
  rss_mb: number;
  /** Share of the server's core / wrk's core that other processes and the hypervisor (steal) took. */
  noise_server_core: number;
  noise_wrk_core: number;
}

interface Pair {
  round: number;
  first: Variant;
  bare: RunSummary;
  instrumented: RunSummary;
  /** instrumented req/s ÷ bare req/s */
  ratio: number;
  /** instrumented CPU per request ÷ bare CPU per request */
  cpu_ratio: number;
  /** instrumented − bare CPU per request, µs */
  cpu_overhead_us: number;
  /** The largest share of the server's core taken by other processes or steal, in either run of the pair. */
  noise: number;
  /** wrk -c of the pair's runs. */
  connections?: number;
}

interface AdapterSummary {
  adapter: string;
  pairs: Pair[];
  median_ratio: number;
  min_ratio: number;
  max_ratio: number;
  median_cpu_ratio: number;
  median_cpu_overhead_us: number;
  median_bare_rps: number;
  median_instrumented_rps: number;
  median_bare_p99_ms: number;
  median_instrumented_p99_ms: number;
  /** (max − min) / median of bare req/s across rounds: how noisy the machine was. */
  bare_rps_spread: number;
  target: number;
  pass: boolean;
  metrics_check?: { sum: number; wrk_requests: number; lines: string[] };
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function summarizeRun(r: RunRecord): RunSummary {
  const w = r.wrk;
  const cpuSeconds = r.cpu_ticks / r.clk_tck;
  return {
    rps: w.requests / (w.duration_us / 1e6),
    p50_ms: w.p50_us / 1000,
    p99_ms: w.p99_us / 1000,
    cpu_us_per_req: w.requests > 0 ? (cpuSeconds * 1e6) / w.requests : NaN,
    server_cpu_util: cpuSeconds / (r.wall_ns / 1e9),
    requests: w.requests,
    errors: w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout,
    rss_mb: r.rss_kb / 1024,
    noise_server_core: noise(r, r.cores?.server_core),
    noise_wrk_core: noise(r, r.cores?.wrk_core),
  };
}

function noise(r: RunRecord, core: CoreTicks | undefined): number {
  if (!core) return NaN;
  const wallTicks = (r.wall_ns / 1e9) * r.clk_tck;
  return Math.max(0, core.others + core.steal) / wallTicks;
}

function env(name: string, fallback = ''): string {
  return process.env[name] ?? fallback;
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pct = (x: number, digits = 1) => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a');
const pad = (s: string, n: number) => s.padStart(n);

/** What the runs are paired and summarised by: the adapter, and the traffic unless it is the single path. */
function groupOf(r: { adapter: string; traffic?: string }): string {
  return r.traffic === undefined || r.traffic === 'path' ? r.adapter : `${r.adapter} ${r.traffic}`;
}

function main(): void {
  const [runsPath, outPath] = process.argv.slice(2);
  if (!runsPath || !outPath) throw new Error('usage: summarize.js <runs.jsonl> <result.json>');
  const records = readFileSync(runsPath, 'utf8')
    .split('\n')
    .filter(l => l.trim() !== '')
    .map(l => JSON.parse(l) as RunRecord | MetricsRecord | EventLoopRecord);
  const runs = records.filter((r): r is RunRecord => r.type === 'run');
  const checks = records.filter((r): r is MetricsRecord => r.type === 'metrics');
  const loops = records.filter((r): r is EventLoopRecord => r.type === 'eventloop');
  const target = Number(env('BENCH_TARGET', '0.95'));

  const groups = [...new Set(runs.map(groupOf))];
  const summaries: AdapterSummary[] = groups.map(adapter => {
    const rounds = [...new Set(runs.filter(r => groupOf(r) === adapter).map(r => r.round))].sort((a, b) => a - b);
    const pairs: Pair[] = [];
    for (const round of rounds) {
      const inRound = runs.filter(r => groupOf(r) === adapter && r.round === round);
      const bare = inRound.find(r => r.variant === 'bare');
      const instr = inRound.find(r => r.variant === 'instrumented');
      if (!bare || !instr) continue;
      const b = summarizeRun(bare);
      const i = summarizeRun(instr);
      pairs.push({
        round,
        first: bare.position < instr.position ? 'bare' : 'instrumented',
        bare: b,
        instrumented: i,
        ratio: i.rps / b.rps,
        cpu_ratio: i.cpu_us_per_req / b.cpu_us_per_req,
        cpu_overhead_us: i.cpu_us_per_req - b.cpu_us_per_req,
        noise: Math.max(b.noise_server_core, i.noise_server_core),
        connections: bare.connections,
      });
    }
    const ratios = pairs.map(p => p.ratio);
    const bareRps = pairs.map(p => p.bare.rps);
    const medianRatio = median(ratios);
    const check = checks.filter(c => groupOf(c) === adapter).at(-1);
    let metrics_check: AdapterSummary['metrics_check'];
    if (check) {
      let lines: string[] = [];
      try {
        lines = readFileSync(check.file, 'utf8')
          .split('\n')
          .filter(l => l.startsWith('http_requests_total'));
      } catch {
        // the scrape file is gone: keep the sums
      }
      metrics_check = { sum: check.sum, wrk_requests: check.wrk_requests, lines };
    }
    return {
      adapter,
      pairs,
      median_ratio: medianRatio,
      min_ratio: Math.min(...ratios),
      max_ratio: Math.max(...ratios),
      median_cpu_ratio: median(pairs.map(p => p.cpu_ratio)),
      median_cpu_overhead_us: median(pairs.map(p => p.cpu_overhead_us)),
      median_bare_rps: median(bareRps),
      median_instrumented_rps: median(pairs.map(p => p.instrumented.rps)),
      median_bare_p99_ms: median(pairs.map(p => p.bare.p99_ms)),
      median_instrumented_p99_ms: median(pairs.map(p => p.instrumented.p99_ms)),
      bare_rps_spread: (Math.max(...bareRps) - Math.min(...bareRps)) / median(bareRps),
      target,
      pass: medianRatio >= target,
      metrics_check,
    };
  });

  const config = {
    started: env('BENCH_STARTED'),
    finished: new Date().toISOString(),
    rounds: Number(env('BENCH_ROUNDS')),
    duration_s: Number(env('BENCH_DURATION')),
    warmup_s: Number(env('BENCH_WARMUP')),
    wrk: {
      threads: Number(env('BENCH_THREADS')),
      connections: Number(env('BENCH_CONNECTIONS')),
      traffic: env('BENCH_TRAFFIC', 'path'),
      mix_connections: Number(env('BENCH_MIX_CONNECTIONS', '50')),
      mix_warmup_s: Number(env('BENCH_MIX_WARMUP', '5')),
      url: env('BENCH_URL'),
    },
    wrk_version: env('BENCH_WRK_VERSION'),
    pinning: env('BENCH_PINNING'),
    node: process.version,
    node_args: env('BENCH_NODE_ARGS'),
    git: env('BENCH_GIT'),
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    loadavg_at_end: loadavg(),
    target,
  };
  const pass = summaries.length > 0 && summaries.every(s => s.pass);
  writeFileSync(outPath, `${JSON.stringify({ config, summaries, pass, runs, eventloop: loops }, null, 2)}\n`);

  const out: string[] = [];
  out.push('');
  out.push(
    `Summary: ${config.rounds} round(s) x ${config.duration_s}s (+${config.warmup_s}s warm-up), ` +
      `wrk -t${config.wrk.threads} -c${config.wrk.connections} ${config.wrk.url}` +
      (config.wrk.traffic.includes('mix')
        ? ` and mix (bench/wrk-mix.lua, -c${config.wrk.mix_connections}, ${config.wrk.mix_warmup_s}s warm-up)`
        : '') +
      `, node ${config.node}, ${config.cpu}`,
  );
  out.push(`Pinning: ${config.pinning}. Lib at ${config.git}.`);
  for (const s of summaries) {
    out.push('');
    out.push(`== ${s.adapter} ==`);
    out.push(
      'round first |  bare req/s  instr req/s   ratio | bare p99  instr p99 (ms) | bare cpu  instr cpu (us/req)  cpu ratio | noise',
    );
    for (const p of s.pairs) {
      out.push(
        `${pad(String(p.round), 5)} ${p.first === 'bare' ? 'bare ' : 'instr'} |` +
          `${pad(fmt(p.bare.rps), 12)} ${pad(fmt(p.instrumented.rps), 12)} ${pad(pct(p.ratio), 7)} |` +
          `${pad(fmt(p.bare.p99_ms, 2), 9)} ${pad(fmt(p.instrumented.p99_ms, 2), 10)}      |` +
          `${pad(fmt(p.bare.cpu_us_per_req, 1), 9)} ${pad(fmt(p.instrumented.cpu_us_per_req, 1), 10)}          ` +
          `${pad(fmt(p.cpu_ratio, 3), 9)} |${pad(pct(p.noise, 0), 6)}` +
          (p.bare.errors + p.instrumented.errors > 0
            ? `  (wrk errors: bare ${p.bare.errors}, instr ${p.instrumented.errors})`
            : ''),
      );
    }
    out.push(
      `median ratio ${pct(s.median_ratio)} (min ${pct(s.min_ratio)}, max ${pct(s.max_ratio)}); ` +
        `median req/s bare ${fmt(s.median_bare_rps)}, instr ${fmt(s.median_instrumented_rps)}; ` +
        `median p99 bare ${fmt(s.median_bare_p99_ms, 2)} ms, instr ${fmt(s.median_instrumented_p99_ms, 2)} ms`,
    );
    out.push(
      `median CPU/request ratio ${fmt(s.median_cpu_ratio, 3)} (instrumented costs ${fmt(s.median_cpu_overhead_us, 1)} us/req more); ` +
        `bare req/s spread across rounds ${pct(s.bare_rps_spread)}; ` +
        `server CPU ${pct(median(s.pairs.map(p => p.bare.server_cpu_util)), 0)} of a core (bare), ` +
        `${pct(median(s.pairs.map(p => p.instrumented.server_cpu_util)), 0)} (instr)`,
    );
    const loopOf = (variant: Variant) => loops.filter(l => groupOf(l) === s.adapter && l.variant === variant);
    if (loops.some(l => groupOf(l) === s.adapter)) {
      const stalls = (variant: Variant) =>
        `p99 ${fmt(median(loopOf(variant).map(l => l.delay.p99_ms)), 2)} ms, max ${fmt(median(loopOf(variant).map(l => l.delay.max_ms)), 2)} ms`;
      out.push(
        `event-loop delay (median of the runs, warm-up included): bare ${stalls('bare')}; instr ${stalls('instrumented')}`,
      );
    }
    const noisy = s.pairs.filter(p => p.noise > 0.05).map(p => p.round);
    if (noisy.length > 0) {
      out.push(
        `note: other processes or steal took > 5% of the server's core in round(s) ${noisy.join(', ')}: ` +
          'req/s there is suspect; CPU/request is less affected',
      );
    }
    const bareUtil = median(s.pairs.map(p => p.bare.server_cpu_util));
    if (bareUtil < 0.9) {
      out.push(
        `note: the bare server used only ${pct(bareUtil, 0)} of its core: it was not the bottleneck (wrk and the ` +
          'loopback were), so the req/s ratio understates the overhead; trust the CPU/request ratio more',
      );
    }
    if (s.metrics_check) {
      const c = s.metrics_check;
      const connections =
        s.pairs.length > 0 ? (s.pairs[0].connections ?? config.wrk.connections) : config.wrk.connections;
      out.push(
        `metrics check (last instrumented run): http_requests_total sum ${c.sum} vs wrk ${c.wrk_requests} ` +
          `(warm-up + measured; up to ${connections} in flight per wrk run may add to the sum)` +
          (Math.abs(c.sum - c.wrk_requests) <= 2 * connections ? ' OK' : ' MISMATCH'),
      );
      for (const l of c.lines) out.push(`  ${l}`);
    }
    out.push(
      `${s.adapter}: ${s.pass ? 'PASS' : 'FAIL'} (median ratio ${pct(s.median_ratio)} vs target >= ${pct(s.target, 0)})`,
    );
  }
  out.push('');
  out.push(`Overall: ${pass ? 'PASS' : 'FAIL'} (target: instrumented keeps >= ${pct(target, 0)} of bare throughput)`);
  out.push(`Results: ${outPath}`);
  console.log(out.join('\n'));
}

main();
