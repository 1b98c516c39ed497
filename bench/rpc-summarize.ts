import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/**
 * Reads the runs bench/rpc.sh recorded (JSON lines), pairs the bare and instrumented run of each
 * round, prints the table, the medians and the metrics check, and writes everything to a JSON file.
 * Exits 1 if the metrics check fails.
 *
 *   node dist/bench/bench/rpc-summarize.js <runs.jsonl> <result.json>
 */

type Variant = 'bare' | 'instrumented';

/** What bench/rpc-load.ts prints after `RPC `. */
interface LoadResult {
  messages: number;
  seconds: number;
  rate: number;
  server_ticks: number;
  clk_tck: number;
  cpu_us_per_msg: number;
  server_cpu_share: number;
  load_cpu_share: number;
  noise_server_core: number;
  noise_load_core: number;
  p50_ms: number;
  p99_ms: number;
  warmup_messages: number;
  sent: number;
  answered: number;
  failed: number;
  wrong: number;
  concurrency: number;
}

interface RunRecord {
  type: 'run';
  round: number;
  position: number;
  variant: Variant;
  rss_kb: number;
  load: LoadResult;
}

interface MetricsRecord {
  type: 'metrics';
  round: number;
  file: string;
  rpc_requests_total: number;
  sent: number;
  lines: string[];
}

interface Pair {
  round: number;
  first: Variant;
  bare: LoadResult;
  instrumented: LoadResult;
  /** instrumented msg/s ÷ bare msg/s */
  ratio: number;
  /** instrumented CPU per message ÷ bare CPU per message */
  cpu_ratio: number;
  /** instrumented − bare CPU per message, µs */
  cpu_overhead_us: number;
  /** The larger share of the server's core that others or steal took, of the two runs. */
  noise: number;
  /** The same for the load generator's core. */
  noise_load: number;
  /** Whether either core lost more than its threshold: the round's msg/s is suspect. */
  noisy: boolean;
}

/**
 * A round is flagged NOISY when others took more than this share of the server's core (which is
 * busy all along), or more than NOISY_LOAD of the load generator's core (which has slack, about
 * 40 % idle, so only a large share slows it down).
 */
const NOISY = 0.05;
const NOISY_LOAD = 0.2;

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pct = (x: number, digits = 1) => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a');

function main(): number {
  const [runsPath, outPath] = process.argv.slice(2);
  if (!runsPath || !outPath) throw new Error('usage: rpc-summarize.js <runs.jsonl> <result.json>');
  const records = readFileSync(runsPath, 'utf8')
    .split('\n')
    .filter(l => l.trim() !== '')
    .map(l => JSON.parse(l) as RunRecord | MetricsRecord);
  const runs = records.filter((r): r is RunRecord => r.type === 'run');
  const check = records.filter((r): r is MetricsRecord => r.type === 'metrics').at(-1);

  const pairs: Pair[] = [];
  for (const round of [...new Set(runs.map(r => r.round))].sort((a, b) => a - b)) {
    const bare = runs.find(r => r.round === round && r.variant === 'bare');
    const instr = runs.find(r => r.round === round && r.variant === 'instrumented');
    if (!bare || !instr) continue;
    const b = bare.load;
    const i = instr.load;
    // Tick-sampled: a quiet core can come out slightly negative.
    const noise = Math.max(0, b.noise_server_core, i.noise_server_core);
    const noiseLoad = Math.max(0, b.noise_load_core, i.noise_load_core);
    pairs.push({
      round,
      first: bare.position < instr.position ? 'bare' : 'instrumented',
      bare: b,
      instrumented: i,
      ratio: i.rate / b.rate,
      cpu_ratio: i.cpu_us_per_msg / b.cpu_us_per_msg,
      cpu_overhead_us: i.cpu_us_per_msg - b.cpu_us_per_msg,
      noise,
      noise_load: noiseLoad,
      noisy: noise > NOISY || noiseLoad > NOISY_LOAD,
    });
  }

  const out: string[] = [];
  out.push(
    'round first        |  bare msg/s instr msg/s   ratio | bare p99 instr p99 (ms) |' +
      ' bare cpu instr cpu (us/msg) cpu ratio | server cpu b/i | load cpu b/i | noise srv/load',
  );
  for (const p of pairs) {
    const noisy = p.noisy ? '  NOISY' : '';
    out.push(
      `${String(p.round).padStart(5)} ${p.first.padEnd(12)} | ${fmt(p.bare.rate).padStart(11)} ` +
        `${fmt(p.instrumented.rate).padStart(11)} ${pct(p.ratio).padStart(7)} | ` +
        `${fmt(p.bare.p99_ms, 2).padStart(8)} ${fmt(p.instrumented.p99_ms, 2).padStart(9)}      | ` +
        `${fmt(p.bare.cpu_us_per_msg, 2).padStart(8)} ${fmt(p.instrumented.cpu_us_per_msg, 2).padStart(9)}` +
        `          ${fmt(p.cpu_ratio, 3).padStart(9)} | ` +
        `${pct(p.bare.server_cpu_share, 0).padStart(5)} ${pct(p.instrumented.server_cpu_share, 0).padStart(5)}    | ` +
        `${pct(p.bare.load_cpu_share, 0).padStart(5)} ${pct(p.instrumented.load_cpu_share, 0).padStart(5)}  | ` +
        `${pct(p.noise, 0).padStart(5)} ${pct(p.noise_load, 0).padStart(5)}${noisy}`,
    );
  }

  const ratios = pairs.map(p => p.ratio);
  const bareRates = pairs.map(p => p.bare.rate);
  const summary = {
    median_ratio: median(ratios),
    min_ratio: Math.min(...ratios),
    max_ratio: Math.max(...ratios),
    median_cpu_ratio: median(pairs.map(p => p.cpu_ratio)),
    median_cpu_overhead_us: median(pairs.map(p => p.cpu_overhead_us)),
    median_bare_rate: median(bareRates),
    median_instrumented_rate: median(pairs.map(p => p.instrumented.rate)),
    median_bare_cpu_us_per_msg: median(pairs.map(p => p.bare.cpu_us_per_msg)),
    median_instrumented_cpu_us_per_msg: median(pairs.map(p => p.instrumented.cpu_us_per_msg)),
    median_bare_p99_ms: median(pairs.map(p => p.bare.p99_ms)),
    median_instrumented_p99_ms: median(pairs.map(p => p.instrumented.p99_ms)),
    median_bare_server_cpu: median(pairs.map(p => p.bare.server_cpu_share)),
    median_instrumented_server_cpu: median(pairs.map(p => p.instrumented.server_cpu_share)),
    /** (max − min) / median of bare msg/s across rounds: how noisy the machine was. */
    bare_rate_spread: (Math.max(...bareRates) - Math.min(...bareRates)) / median(bareRates),
    noisy_rounds: pairs.filter(p => p.noisy).map(p => p.round),
  };
  out.push(
    `median ratio ${pct(summary.median_ratio)} (min ${pct(summary.min_ratio)}, max ${pct(summary.max_ratio)}); ` +
      `median msg/s ${fmt(summary.median_bare_rate)} bare, ${fmt(summary.median_instrumented_rate)} instrumented; ` +
      `median p99 ${fmt(summary.median_bare_p99_ms, 2)} / ${fmt(summary.median_instrumented_p99_ms, 2)} ms`,
  );
  out.push(
    `median CPU/message ratio ${fmt(summary.median_cpu_ratio, 3)} ` +
      `(${fmt(summary.median_bare_cpu_us_per_msg, 2)} -> ${fmt(summary.median_instrumented_cpu_us_per_msg, 2)} us/msg; ` +
      `instrumented costs ${fmt(summary.median_cpu_overhead_us, 2)} us/msg more, median of the pairs); ` +
      `bare msg/s spread across rounds ${pct(summary.bare_rate_spread, 0)}; server CPU ` +
      `${pct(summary.median_bare_server_cpu, 0)} of a core (bare), ${pct(summary.median_instrumented_server_cpu, 0)} (instr)`,
  );
  if (summary.median_bare_server_cpu < 0.9) {
    out.push(
      'note: the bare server was not saturated (< 90% of its core): other processes, the load generator or the ' +
        'loopback limited the rate. The msg/s ratio then understates the overhead, and the CPU/message figures ' +
        'are off too (a starved server handles fewer messages per TCP read): run again on a quieter machine.',
    );
  }
  if (summary.noisy_rounds.length > 0) {
    out.push(
      `noisy rounds (others/steal took > ${pct(NOISY, 0)} of the server core or > ${pct(NOISY_LOAD, 0)} of the ` +
        `load generator's): ${summary.noisy_rounds.join(', ')}`,
    );
  }

  let checkOk = false;
  if (check) {
    checkOk = check.rpc_requests_total >= check.sent;
    out.push(`metrics check (round ${check.round}, instrumented): ${check.lines.join('; ')}`);
    out.push(
      `  rpc_requests_total{pattern="sum"} = ${check.rpc_requests_total} vs ${check.sent} messages sent ` +
        `(all answered) ${checkOk ? 'OK' : 'FAIL'}`,
    );
  } else {
    out.push('metrics check: no scrape recorded: FAIL');
  }
  process.stdout.write(`${out.join('\n')}\n`);

  const result = {
    kind: 'rpc',
    started: process.env.BENCH_STARTED,
    settings: {
      rounds: Number(process.env.BENCH_ROUNDS),
      duration_s: Number(process.env.BENCH_DURATION),
      warmup_s: Number(process.env.BENCH_WARMUP),
      concurrency: Number(process.env.BENCH_CONCURRENCY),
      address: process.env.BENCH_TARGET_ADDR,
      pinning: process.env.BENCH_PINNING,
      node_args: process.env.BENCH_NODE_ARGS,
    },
    machine: { node: process.version, cpus: cpus().length, cpu_model: cpus()[0]?.model, loadavg: loadavg() },
    git: process.env.BENCH_GIT,
    runs,
    pairs,
    summary,
    metrics_check: check ? { ...check, ok: checkOk } : undefined,
  };
  writeFileSync(outPath, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`results: ${outPath}\n`);
  return checkOk ? 0 : 1;
}

process.exitCode = main();
