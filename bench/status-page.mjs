// Figures of the status page (README "Status page"): memory its history holds at 10 and 100
// routes, the cost of one sampling tick, the size of the page and of its JSON.
//
//   npm run build && node --expose-gc bench/status-page.mjs
//
// Reads the built library (dist/esm). The registry holds what an app's would: prom-client's
// default metrics and the module's HTTP metrics for N routes (2 status codes each, default
// buckets), with every series observed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { StatusHistory } = await import(join(root, 'dist/esm/status-page/status-history.js'));
const { mergeStatus } = await import(join(root, 'dist/esm/status-page/status-merge.js'));
const { statusSources } = await import(join(root, 'dist/esm/status-page/status-page.service.js'));
const { resolvePrometheusOptions } = await import(join(root, 'dist/esm/prometheus-options.js'));

const gc = globalThis.gc ?? (() => undefined);
const kb = bytes => `${(bytes / 1024).toFixed(1)} KiB`;

async function registryWith(routes) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'h',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'h',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  const inProgress = new Gauge({
    name: 'http_requests_in_progress',
    help: 'h',
    labelNames: ['method', 'route'],
    registers: [registry],
  });
  for (let i = 0; i < routes; i++) {
    for (const status of ['200', '404']) {
      requests.inc({ method: 'GET', route: `/r${i}/:id`, status_code: status }, 10);
      duration.observe({ method: 'GET', route: `/r${i}/:id`, status_code: status }, 0.02 * ((i % 7) + 1));
    }
    inProgress.set({ method: 'GET', route: `/r${i}/:id` }, 0);
  }
  return registry;
}

const options = resolvePrometheusOptions({ statusPage: true, defaultMetrics: { enabled: false } });
const page = options.statusPage;
console.log(`statusPage defaults: refreshSeconds ${page.refreshSeconds}, historyMinutes ${page.historyMinutes}`);

for (const routes of [10, 100]) {
  const registry = await registryWith(routes);
  const snapshots = [];
  for (let i = 0; i < 20; i++) snapshots.push(await registry.getMetricsAsJSON());
  // A throwaway history first: compiled code and inline caches are not the history's memory.
  const warm = new StatusHistory(
    statusSources({ ...options, defaultMetrics: { enabled: true } }),
    page.refreshSeconds,
    page.historyMinutes,
  );
  for (let i = 0; i < 400; i++) warm.sample(snapshots[i % snapshots.length], Date.now() + i * 5000);
  gc();
  const memory = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const heapBefore = memory();
  const history = new StatusHistory(
    statusSources({ ...options, defaultMetrics: { enabled: true } }),
    page.refreshSeconds,
    page.historyMinutes,
  );
  // A full history: every point of 15 minutes written once.
  const ticks = Math.ceil((page.historyMinutes * 60) / page.refreshSeconds);
  let now = Date.now();
  let sampleNs = 0n;
  for (let i = 0; i < ticks; i++) {
    const snapshot = snapshots[i % snapshots.length];
    const start = process.hrtime.bigint();
    history.sample(snapshot, (now += page.refreshSeconds * 1000));
    sampleNs += process.hrtime.bigint() - start;
  }
  gc();
  const heapAfter = memory();
  // Steady state (optimised code): sample() alone, another full history's worth of ticks.
  sampleNs = 0n;
  for (let i = 0; i < ticks; i++) {
    const snapshot = snapshots[i % snapshots.length];
    const start = process.hrtime.bigint();
    history.sample(snapshot, (now += page.refreshSeconds * 1000));
    sampleNs += process.hrtime.bigint() - start;
  }
  // A whole tick as the timer runs it: the registry read (default metrics' collect included) and the sample.
  const rounds = 100;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++)
    history.sample(await registry.getMetricsAsJSON(), (now += page.refreshSeconds * 1000));
  const tickNs = Number(process.hrtime.bigint() - start) / rounds;
  const json = JSON.stringify(history.view(await registry.getMetricsAsJSON(), now));
  // In a cluster: what each worker sends over IPC (its snapshot, as JSON), and merging 4 of them.
  const snapshot = history.snapshot(await registry.getMetricsAsJSON(), now);
  const ipc = JSON.stringify(snapshot);
  const peers = Array.from({ length: 4 }, () => JSON.parse(ipc));
  for (let i = 0; i < 20; i++) mergeStatus(peers, 4);
  const mergeRounds = 50;
  const mergeStart = process.hrtime.bigint();
  for (let i = 0; i < mergeRounds; i++) mergeStatus(peers, 4);
  const mergeMs = Number(process.hrtime.bigint() - mergeStart) / mergeRounds / 1e6;
  console.log(
    `${routes} routes, cluster: snapshot per worker (IPC message) ${kb(ipc.length)}; ` +
      `mergeStatus() of 4 workers ${mergeMs.toFixed(2)} ms`,
  );
  console.log(
    `${routes} routes: history buffers ${kb(history.bytes())} (typed arrays), heap + array buffers grown by a full history ` +
      `${globalThis.gc ? kb(heapAfter - heapBefore) : 'n/a (run with --expose-gc)'}; ` +
      `sample() ${(Number(sampleNs) / ticks / 1000).toFixed(0)} µs, whole tick ${(tickNs / 1000).toFixed(0)} µs; ` +
      `JSON ${kb(json.length)} (${kb(gzipSync(json).length)} gzip)`,
  );
}

const resolve = createRequire(import.meta.url).resolve;
const files = {
  'index.html': join(root, 'dist/esm/status-page/assets/index.html'),
  'status-page.js': join(root, 'dist/esm/status-page/assets/status-page.js'),
  'status-page.css': join(root, 'dist/esm/status-page/assets/status-page.css'),
  'uplot.js (uPlot.iife.min.js)': resolve('uplot/dist/uPlot.iife.min.js'),
  'uplot.css (uPlot.min.css)': resolve('uplot/dist/uPlot.min.css'),
};
let total = 0;
let totalGzip = 0;
for (const [name, file] of Object.entries(files)) {
  const text = readFileSync(file);
  const gz = gzipSync(text).length;
  total += text.length;
  totalGzip += gz;
  console.log(`page file ${name}: ${kb(text.length)} (${kb(gz)} gzip)`);
}
console.log(`page total: ${kb(total)} (${kb(totalGzip)} gzip)`);
