// What a scrape costs the app (issue 16): total time of GET /metrics and the longest event-loop
// stall of the app while it answers, per exposition format, at 1k / 16k / 100k series; prom-client's
// own `registry.metrics()` for the same series as the reference; the stall of a cluster primary
// aggregating 4 workers of 10k series; bytes per series of our engine and of prom-client.
//
//   npm run bench:scrape                     (SCRAPES=15 SIZES=1000,16000,100000)
//
// The app runs in a child process pinned to core 1 (taskset), the client in this one: a client
// parsing a 10 MB body on the app's event loop would be counted as the app's stall. The stall is
// the longest gap between two ticks of a 1 ms interval timer in the app, minus 1 ms, from just
// before the request is sent until the response has been read in full.
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Counter, Histogram, Registry } from 'prom-client';

const SCRAPES = Number(process.env.SCRAPES ?? 15);
// Scrapes before the measured ones, per format: JIT warm-up (with 2, the first format measured,
// text, ran 2 to 3 ms slower than the same bytes in OpenMetrics right after it).
const WARMUP = 5;
const SIZES = (process.env.SIZES ?? '1000,16000,100000')
  .split(',')
  .map(Number)
  .filter(n => n > 0);
/** `CLUSTER=0` skips the cluster primary's measurement. */
const CLUSTER = process.env.CLUSTER !== '0';
/** The registry at 16k series: 10k decorator counter series, 1k histogram series, 5k plain prom-client. */
const MIX =
  process.env.PLAIN === '0'
    ? // The module's engine alone: what the module renders itself, without prom-client's get().
      { counter: 15 / 16, histogram: 1 / 16, plain: 0 }
    : { counter: 10 / 16, histogram: 1 / 16, plain: 5 / 16 };

interface Format {
  name: string;
  headers: Record<string, string>;
  query: string;
}
const FORMATS: Format[] = [
  { name: 'text', headers: {}, query: '' },
  { name: 'OpenMetrics', headers: { accept: 'application/openmetrics-text; version=1.0.0' }, query: '' },
  { name: 'gzip (text)', headers: { 'accept-encoding': 'gzip' }, query: '' },
  {
    name: 'OpenMetrics+gzip',
    headers: { accept: 'application/openmetrics-text; version=1.0.0', 'accept-encoding': 'gzip' },
    query: '',
  },
  { name: '?name[]= (plain family)', headers: {}, query: '?name[]=bench_items_total' },
];

// ---------------------------------------------------------------------------------------------
// The app (child process)

/** Stall watch: the longest gap between ticks of a 1 ms timer since `arm()`. */
class StallWatch {
  private last = performance.now();
  private longest = 0;
  private lastCpu = process.cpuUsage();
  private longestCpu = 0;
  private longestGc = 0;
  constructor() {
    // V8's pauses for garbage collection, to tell a stall the renderer caused from one the GC did.
    new PerformanceObserver(list => {
      for (const entry of list.getEntries()) if (entry.duration > this.longestGc) this.longestGc = entry.duration;
    }).observe({ entryTypes: ['gc'] });
    setInterval(() => {
      const now = performance.now();
      if (now - this.last > this.longest) this.longest = now - this.last;
      this.last = now;
      const cpu = process.cpuUsage();
      const used = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
      if (used > this.longestCpu) this.longestCpu = used;
      this.lastCpu = cpu;
    }, 1).unref();
  }
  arm(): void {
    this.last = performance.now();
    this.longest = 0;
    this.lastCpu = process.cpuUsage();
    this.longestCpu = 0;
    this.longestGc = 0;
  }
  /** The longest GC pause since `arm()` (entries arrive a turn late: read after one). */
  readGc(): number {
    return this.longestGc;
  }
  /** The longest gap between two ticks, minus the 1 ms the timer waits: wall-clock time. */
  read(): number {
    const now = performance.now();
    return Math.max(this.longest, now - this.last) - 1;
  }
  /**
   * The most CPU time the process used between two ticks: the stall without the time the OS gave
   * the core to other processes (on a shared, overloaded machine that time dominates the wall
   * clock). Process-wide: includes GC helper threads and the thread pool (gzip).
   */
  readCpu(): number {
    const cpu = process.cpuUsage();
    const used = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    return Math.max(this.longestCpu, used);
  }
}

async function fillRegistry(registry: Registry, size: number, prefix = 'bench'): Promise<void> {
  const { CounterFamily } = await import('../lib/core/counter-family.js');
  const { HistogramFamily } = await import('../lib/core/histogram-family.js');
  const { registerCollectableMetric } = await import('../lib/compat/prom-client.js');
  // The decorators' engine (lib/metrics): what @Counter / @Histogram and the HTTP metrics record into.
  const calls = new CounterFamily(`${prefix}_calls_total`, 'Calls by handler', ['class', 'method', 'outcome']);
  registerCollectableMetric(registry, calls);
  const counters = Math.round(size * MIX.counter);
  for (let i = 0; i < counters; i++) {
    const s = calls.child([`Service${i % 97}`, `method_${i}`, i % 3 === 0 ? 'error' : 'ok']);
    for (let k = 0; k < 1 + (i % 5); k++) s.inc();
  }
  const durations = new HistogramFamily(
    `${prefix}_duration_seconds`,
    'Durations by handler',
    ['class', 'method'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  registerCollectableMetric(registry, durations);
  const histograms = Math.round(size * MIX.histogram);
  for (let i = 0; i < histograms; i++) {
    const s = durations.child([`Service${i % 97}`, `method_${i}`]);
    for (let k = 0; k < 10; k++) s.observe(((i * 7 + k * 13) % 1000) / 997);
  }
  const items = new Counter({
    name: `${prefix}_items_total`,
    help: 'Items, a plain prom-client counter of the app',
    labelNames: ['item', 'shard'],
    registers: [registry],
  });
  const plain = Math.round(size * MIX.plain);
  for (let i = 0; i < plain; i++) items.inc({ item: `item-${i}`, shard: String(i % 7) }, i + 1);
}

/** The same series, all made with prom-client: the reference. */
function fillPromClientRegistry(registry: Registry, size: number): void {
  const calls = new Counter({
    name: 'ref_calls_total',
    help: 'Calls by handler',
    labelNames: ['class', 'method', 'outcome'],
    registers: [registry],
  });
  for (let i = 0; i < Math.round(size * MIX.counter); i++) {
    calls.inc({ class: `Service${i % 97}`, method: `method_${i}`, outcome: i % 3 === 0 ? 'error' : 'ok' }, 1 + (i % 5));
  }
  const durations = new Histogram({
    name: 'ref_duration_seconds',
    help: 'Durations by handler',
    labelNames: ['class', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  for (let i = 0; i < Math.round(size * MIX.histogram); i++) {
    for (let k = 0; k < 10; k++)
      durations.observe({ class: `Service${i % 97}`, method: `method_${i}` }, ((i * 7 + k * 13) % 1000) / 997);
  }
  const items = new Counter({
    name: 'ref_items_total',
    help: 'Items',
    labelNames: ['item', 'shard'],
    registers: [registry],
  });
  for (let i = 0; i < Math.round(size * MIX.plain); i++) items.inc({ item: `item-${i}`, shard: String(i % 7) }, i + 1);
}

async function serve(size: number): Promise<void> {
  const { PrometheusModule } = await import('../lib/index.js');
  const registry = new Registry();
  await fillRegistry(registry, size);
  const reference = new Registry();
  fillPromClientRegistry(reference, size);
  @Module({ imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const watch = new StallWatch();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'arm') {
      watch.arm();
      process.send?.({ type: 'armed' });
    } else if (message.type === 'read') {
      const ms = watch.read();
      const cpu = watch.readCpu();
      setImmediate(() => process.send?.({ type: 'stall', ms, cpu, gc: watch.readGc() }));
    } else if (message.type === 'reference') {
      // prom-client alone, in one piece: time and stall are the same thing.
      watch.arm();
      const started = performance.now();
      void reference.metrics().then(() => {
        const total = performance.now() - started;
        setImmediate(() => process.send?.({ type: 'reference', total, stall: watch.read(), cpu: watch.readCpu() }));
      });
    } else if (message.type === 'idle') {
      // The machine's own noise: the same watch over a window of no work at all.
      watch.arm();
      setTimeout(
        () => process.send?.({ type: 'idle', stall: watch.read(), cpu: watch.readCpu() }),
        (message as { ms?: number }).ms ?? 50,
      );
    } else if (message.type === 'exit') {
      void app.close().then(() => process.exit(0));
    }
  });
  const port = (app.getHttpServer().address() as AddressInfo).port;
  process.send?.({ type: 'ready', port });
}

/** The primary of a 4-worker cluster aggregating 10k series per worker (the workers' JSON made here). */
async function servePrimary(): Promise<void> {
  const { renderAggregate } = await import('../lib/cluster/prometheus-cluster.js');
  const collected = [];
  for (let w = 0; w < 4; w++) {
    const registry = new Registry();
    await fillRegistry(registry, 10_000);
    // What arrives over IPC: plain JSON.
    collected.push(JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())));
  }
  const watch = new StallWatch();
  const results: { total: number; stall: number; cpu: number; gc: number }[] = [];
  for (let i = 0; i < WARMUP + SCRAPES; i++) {
    await new Promise(resolve => setTimeout(resolve, 20));
    watch.arm();
    const started = performance.now();
    const rendered = await renderAggregate(collected, undefined);
    const total = performance.now() - started;
    await new Promise(resolve => setImmediate(resolve));
    if (rendered.body.length === 0) throw new Error('empty aggregate');
    await new Promise(resolve => setImmediate(resolve));
    if (i >= WARMUP) results.push({ total, stall: watch.read(), cpu: watch.readCpu(), gc: watch.readGc() });
  }
  process.send?.({ type: 'primary', results }, () => process.disconnect());
}

/** Bytes of heap per series: our engine against prom-client, for a counter and a histogram. */
async function memory(): Promise<void> {
  const { CounterFamily } = await import('../lib/core/counter-family.js');
  const { HistogramFamily } = await import('../lib/core/histogram-family.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const N = 50_000;
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const labels = (i: number) => [`Service${i % 97}`, `method_${i}`];
  // The label values exist before either engine sees them (the app has them): not counted.
  const values = Array.from({ length: N }, (_, i) => labels(i));
  const objects = values.map(([c, m]) => ({ class: c, method: m }));
  const measure = (make: () => unknown): number => {
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = make();
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    if (!kept) throw new Error('nothing made');
    return Math.round((after - before) / N);
  };
  const out = {
    counterOurs: measure(() => {
      const m = new CounterFamily('m_total', 'h', ['class', 'method']);
      for (const v of values) m.child(v).inc();
      return m;
    }),
    counterPromClient: measure(() => {
      const m = new Counter({ name: 'm_total', help: 'h', labelNames: ['class', 'method'], registers: [] });
      for (const o of objects) m.inc(o);
      return m;
    }),
    histogramOurs: measure(() => {
      const m = new HistogramFamily('m_seconds', 'h', ['class', 'method'], buckets);
      for (const v of values) m.child(v).observe(0.2);
      return m;
    }),
    histogramPromClient: measure(() => {
      const m = new Histogram({
        name: 'm_seconds',
        help: 'h',
        labelNames: ['class', 'method'],
        buckets,
        registers: [],
      });
      for (const o of objects) m.observe(o, 0.2);
      return m;
    }),
  };
  process.send?.({ type: 'memory', ...out }, () => process.disconnect());
}

// ---------------------------------------------------------------------------------------------
// The client (this process)

function child(args: string[]): ChildProcess {
  const file = fileURLToPath(import.meta.url);
  // APP_NODE_FLAGS: extra flags for the app's Node (--trace-gc to see which stalls are GC).
  const flags = (process.env.APP_NODE_FLAGS ?? '').split(' ').filter(f => f !== '');
  return spawn('taskset', ['-c', '1', process.execPath, '--expose-gc', ...flags, file, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function next<T>(proc: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number) => reject(new Error(`the app exited (${code}) before sending ${type}`));
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

function get(port: number, format: Format): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/metrics${format.query}`, headers: format.headers }, res => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmt = (ms: number) => ms.toFixed(1);

async function measureSize(size: number): Promise<void> {
  const app = child(['--serve', String(size)]);
  const { port } = await next<{ port: number }>(app, 'ready');
  console.log(
    `\n${size} series (${Math.round(size * MIX.counter)} counter, ${Math.round(size * MIX.histogram)} histogram, ${Math.round(size * MIX.plain)} plain prom-client)`,
  );
  console.log(
    '| format | bytes | total ms (median) | longest stall ms, wall (median) | wall max | longest stall ms, CPU (median) | longest GC pause ms (median) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  let window = 50;
  for (const format of FORMATS) {
    const totals: number[] = [];
    const stalls: number[] = [];
    const cpus: number[] = [];
    const gcs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < WARMUP + SCRAPES; i++) {
      // The endpoint spaces renderings by the last one's duration: do not measure that wait.
      await new Promise(resolve => setTimeout(resolve, 30 + (totals.at(-1) ?? 0)));
      app.send({ type: 'arm' });
      await next(app, 'armed');
      const started = performance.now();
      const res = await get(port, format);
      const total = performance.now() - started;
      app.send({ type: 'read' });
      const { ms, cpu, gc } = await next<{ ms: number; cpu: number; gc: number }>(app, 'stall');
      if (res.status !== 200) throw new Error(`${format.name}: status ${res.status}`);
      bytes = res.bytes;
      if (i < WARMUP) continue;
      totals.push(total);
      stalls.push(ms);
      cpus.push(cpu);
      gcs.push(gc);
    }
    console.log(
      `| ${format.name} | ${bytes} | ${fmt(median(totals))} | ${fmt(median(stalls))} | ${fmt(Math.max(...stalls))} | ${fmt(median(cpus))} | ${fmt(median(gcs))} |`,
    );
    if (format === FORMATS[0]) window = median(totals);
  }
  const idle: number[] = [];
  const idleCpu: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    app.send({ type: 'idle', ms: window });
    const quiet = await next<{ stall: number; cpu: number }>(app, 'idle');
    idle.push(quiet.stall);
    idleCpu.push(quiet.cpu);
  }
  console.log(
    `| idle: no scrape, the same watch over ${fmt(window)} ms (this machine's noise) | | | ${fmt(median(idle))} | ${fmt(Math.max(...idle))} | ${fmt(median(idleCpu))} |`,
  );
  const refTotals: number[] = [];
  const refStalls: number[] = [];
  const refCpu: number[] = [];
  for (let i = 0; i < WARMUP + SCRAPES; i++) {
    await new Promise(resolve => setTimeout(resolve, 30));
    app.send({ type: 'reference' });
    const { total, stall, cpu } = await next<{ total: number; stall: number; cpu: number }>(app, 'reference');
    if (i < WARMUP) continue;
    refTotals.push(total);
    refStalls.push(stall);
    refCpu.push(cpu);
  }
  console.log(
    `| prom-client registry.metrics() (reference, in-process) | | ${fmt(median(refTotals))} | ${fmt(median(refStalls))} | ${fmt(Math.max(...refStalls))} | ${fmt(median(refCpu))} |`,
  );
  app.send({ type: 'exit' });
  await new Promise(resolve => app.once('exit', resolve));
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === '--serve') return serve(Number(process.argv[3]));
  if (mode === '--primary') return servePrimary();
  if (mode === '--memory') return memory();
  const load = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim();
  console.log(
    `bench:scrape  node ${process.version}  ${SCRAPES} scrapes per row (+${WARMUP} warm-up), app pinned to core 1; loadavg at start: ${load}`,
  );
  for (const size of SIZES) await measureSize(size);

  if (CLUSTER) await measurePrimary();
  await measureMemory();
}

async function measurePrimary(): Promise<void> {
  const primary = child(['--primary']);
  const { results } = await next<{ results: { total: number; stall: number; cpu: number; gc: number }[] }>(
    primary,
    'primary',
  );
  await new Promise(resolve => primary.once('exit', resolve));
  console.log(
    "\ncluster primary, 4 workers x 10k series, aggregate + render text (the IPC parse of the workers' messages not included)",
  );
  console.log(
    `total ${fmt(median(results.map(r => r.total)))} ms, longest stall ${fmt(median(results.map(r => r.stall)))} ms wall, ${fmt(median(results.map(r => r.cpu)))} ms CPU, longest GC pause ${fmt(median(results.map(r => r.gc)))} ms (medians)`,
  );
}

async function measureMemory(): Promise<void> {
  const mem = child(['--memory']);
  const m = await next<Record<string, number>>(mem, 'memory');
  await new Promise(resolve => mem.once('exit', resolve));
  console.log('\nheap bytes per series (50k series, 2 labels; label strings not counted)');
  console.log(
    `counter: ours ${m.counterOurs}, prom-client ${m.counterPromClient}; histogram (11 buckets): ours ${m.histogramOurs}, prom-client ${m.histogramPromClient}`,
  );
  console.log(`loadavg at end: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
