// Per-call cost of the metric decorators: a decorated provider method against the same method
// undecorated, in one process, alternating variants over several rounds (median ns/call).
// Run: npm run bench:methods   (CALLS=1000000 ROUNDS=7)
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import { Counter, Gauge, Histogram, PrometheusModule, Summary } from '../lib/index.js';

const CALLS = Number(process.env.CALLS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

@Injectable()
class Work {
  total = 0;
  plain(x: number): number {
    return (this.total += x);
  }
  @Counter({ name: 'bench_counted_total', help: 'x' })
  counted(x: number): number {
    return (this.total += x);
  }
  @Counter({ name: 'bench_labelled_total', help: 'x', labels: { outcome: c => (c.error ? 'error' : 'ok') } })
  labelled(x: number): number {
    return (this.total += x);
  }
  @Histogram({ name: 'bench_timed_seconds', help: 'x' })
  timed(x: number): number {
    return (this.total += x);
  }
  @Summary({ name: 'bench_summary_seconds', help: 'x' })
  summarised(x: number): number {
    return (this.total += x);
  }
  @Gauge({ name: 'bench_in_progress', help: 'x' })
  gauged(x: number): number {
    return (this.total += x);
  }
  async asyncPlain(x: number): Promise<number> {
    return (this.total += x);
  }
  @Histogram({ name: 'bench_async_seconds', help: 'x' })
  async asyncTimed(x: number): Promise<number> {
    return (this.total += x);
  }
}

@Module({
  imports: [PrometheusModule.forRoot({ registry: new Registry(), http: false, defaultMetrics: { enabled: false } })],
  providers: [Work],
})
class BenchModule {}

type Variant = [name: string, run: (w: Work) => Promise<void> | void];
const sync = (m: 'plain' | 'counted' | 'labelled' | 'timed' | 'summarised' | 'gauged'): Variant => [
  m,
  w => {
    for (let i = 0; i < CALLS; i++) w[m](1);
  },
];
const asyncVariant = (m: 'asyncPlain' | 'asyncTimed'): Variant => [
  m,
  async w => {
    for (let i = 0; i < CALLS / 10; i++) await w[m](1);
  },
];
const VARIANTS: Variant[] = [
  sync('plain'),
  sync('counted'),
  sync('labelled'),
  sync('timed'),
  sync('summarised'),
  sync('gauged'),
  asyncVariant('asyncPlain'),
  asyncVariant('asyncTimed'),
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const work = app.get(Work);
  const samples = new Map<string, number[]>(VARIANTS.map(([n]) => [n, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    // Round 0 warms the JIT; later rounds rotate the order to spread drift over all variants.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    for (const [name, run] of order) {
      const calls = name.startsWith('async') ? CALLS / 10 : CALLS;
      const start = process.hrtime.bigint();
      await run(work);
      const ns = Number(process.hrtime.bigint() - start) / calls;
      if (round > 0) samples.get(name)!.push(ns);
    }
  }
  await app.close();
  const plain = median(samples.get('plain')!);
  const asyncPlain = median(samples.get('asyncPlain')!);
  console.log(`method decorators: ${CALLS} calls per round (async: ${CALLS / 10}), ${ROUNDS} rounds, median ns/call`);
  console.log('variant       ns/call   overhead ns/call');
  for (const [name] of VARIANTS) {
    const ns = median(samples.get(name)!);
    const base = name.startsWith('async') ? asyncPlain : plain;
    console.log(`${name.padEnd(12)} ${ns.toFixed(1).padStart(8)} ${(ns - base).toFixed(1).padStart(12)}`);
  }
}

void main();
