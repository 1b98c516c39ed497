// Native histograms against classic ones (issue 17): the cost of one observation, and the series
// and bytes a scrape carries, in one process (median of alternating rounds).
// Run: npm run bench:native   (OBSERVATIONS=1000000 ROUNDS=7 ROUTES=20)
import { Registry } from 'prom-client';
import { encodeMetricFamilies, type JsonMetricFamily } from '../lib/core/exposition/protobuf.js';
import { resolveNativeHistograms } from '../lib/core/native-histogram-options.js';
import { registerCollectableMetric } from '../lib/compat/prom-client.js';
import { HistogramFamily } from '../lib/core/histogram-family.js';
import { DEFAULT_DURATION_BUCKETS } from '../lib/core/core.constants.js';

const OBSERVATIONS = Number(process.env.OBSERVATIONS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const ROUTES = Number(process.env.ROUTES ?? 20);

// Latencies of a web app: log-normal around 40 ms, a tail to seconds (deterministic).
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
const values = new Float64Array(1 << 16);
for (let i = 0; i < values.length; i++) {
  const normal = Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  values[i] = 0.04 * Math.exp(normal);
}

const native = resolveNativeHistograms(true, 'bench');
const nativeOnly = resolveNativeHistograms({ classicBuckets: false }, 'bench');
if (!native || !nativeOnly) throw new Error('unreachable');
const variants = {
  classic: () => new HistogramFamily('d', 'd', ['route'], DEFAULT_DURATION_BUCKETS),
  'native + classic': () => new HistogramFamily('d', 'd', ['route'], DEFAULT_DURATION_BUCKETS, native.config),
  'native only': () => new HistogramFamily('d', 'd', ['route'], [], nativeOnly.config),
};

function observeLoop(make: () => HistogramFamily): number {
  const series = make().child(['/r']);
  const mask = values.length - 1;
  const start = process.hrtime.bigint();
  for (let i = 0; i < OBSERVATIONS; i++) series.observe(values[i & mask]);
  return Number(process.hrtime.bigint() - start) / OBSERVATIONS;
}

const timings: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(variants)) (timings[name] ??= []).push(observeLoop(make));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`per observation (median of ${ROUNDS} rounds of ${OBSERVATIONS}):`);
for (const [name, xs] of Object.entries(timings)) console.log(`  ${name.padEnd(17)} ${median(xs).toFixed(1)} ns`);

async function scrapeSizes(name: string, make: () => HistogramFamily): Promise<void> {
  const registry = new Registry();
  const histogram = make();
  registerCollectableMetric(registry, histogram);
  for (let r = 0; r < ROUTES; r++) {
    const series = histogram.child([`/route/${r}`]);
    for (let i = 0; i < 10_000; i++) series.observe(values[(i * 7 + r * 13) & (values.length - 1)]);
  }
  const text = await registry.metrics();
  const lines = text.split('\n').filter(l => l !== '' && !l.startsWith('#')).length;
  const protobuf = encodeMetricFamilies((await registry.getMetricsAsJSON()) as unknown as JsonMetricFamily[]);
  console.log(
    `  ${name.padEnd(17)} text: ${lines} samples, ${Buffer.byteLength(text)} B; protobuf: ${protobuf.length} B ` +
      `(${(protobuf.length / ROUTES).toFixed(0)} B per series)`,
  );
}
console.log(`one scrape of ${ROUTES} series, 10000 observations each:`);
for (const [name, make] of Object.entries(variants)) await scrapeSizes(name, make);
