import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { renderCollected } from '../core/exposition/render-exposition.js';
import { registerCollectableMetric } from '../compat/prom-client.js';
import type { MetricsJson } from '../core/exposition/render-metrics.js';
import { CounterFamily } from '../core/counter-family.js';
import { HistogramFamily } from '../core/histogram-family.js';
import { aggregateInSlices } from './aggregate-metrics.js';

/** What worker `w` of a cluster sends the primary: every aggregator, the module's series and prom-client's. */
async function worker(w: number): Promise<MetricsJson> {
  const registry = new Registry();
  const calls = new CounterFamily('calls_total', 'Calls', ['route']);
  registerCollectableMetric(registry, calls);
  for (let i = 0; i <= w; i++) calls.child([`/r${i}`]).inc();
  const durations = new HistogramFamily('duration_seconds', 'Durations', ['route'], [0.1, 1]);
  registerCollectableMetric(registry, durations);
  durations.child(['/a']).observe(0.05 * (w + 1));
  durations.child([`/only-${w}`]).observe(2);
  const items = new Counter({ name: 'items_total', help: 'Items', labelNames: ['a', 'b'], registers: [registry] });
  // The same label set written with its keys in another order: one series.
  items.inc(w % 2 === 0 ? { a: 'x', b: 'y' } : { b: 'y', a: 'x' }, w + 1);
  for (const aggregator of ['sum', 'first', 'min', 'max', 'average', 'omit'] as const) {
    new Gauge({ name: `g_${aggregator}`, help: aggregator, aggregator, labelNames: ['k'], registers: [registry] }).set(
      { k: 'v' },
      w * 10 - 7,
    );
  }
  new Histogram({ name: 'plain_seconds', help: 'h', buckets: [1], registers: [registry] }).observe(w);
  return JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as MetricsJson;
}

async function render(workers: MetricsJson[]): Promise<string> {
  const slices: string[] = [];
  await renderCollected(await aggregateInSlices(workers), 'text', undefined, s => slices.push(s));
  return slices.join('');
}

describe('aggregateInSlices', () => {
  it('combines workers as prom-client’s AggregatorRegistry does, for every aggregator', async () => {
    const workers = await Promise.all([0, 1, 2, 3].map(worker));
    const ours = await render(workers);
    expect(ours).toBe(await AggregatorRegistry.aggregate(workers).metrics());
    expect(ours).toContain('items_total{a="x",b="y"} 10');
    expect(ours).toContain('g_average{k="v"} 8');
    expect(ours).not.toContain('g_omit');
  });

  it('rejects an aggregator prom-client does not define, with prom-client’s message', async () => {
    const workers = await Promise.all([0, 1].map(worker));
    (workers[0][0] as { aggregator: string }).aggregator = 'median';
    await expect(aggregateInSlices(workers)).rejects.toThrow("'median' is not a defined aggregator.");
  });

  it('keeps label sets apart whose hashes collide, and matches them across workers', async () => {
    // 'user-288904' and 'user-658220' hash alike as {id} label sets: a chain of two groups.
    const workers = await Promise.all(
      [0, 1, 2].map(async w => {
        const registry = new Registry();
        const c = new Counter({ name: 'seen_total', help: 'Seen', labelNames: ['id'], registers: [registry] });
        const ids = w === 1 ? ['user-1', 'user-658220', 'user-288904'] : ['user-288904', 'user-658220'];
        ids.forEach((id, i) => c.inc({ id }, (w + 1) * (i + 1)));
        return JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as MetricsJson;
      }),
    );
    const ours = await render(workers);
    expect(ours).toBe(await AggregatorRegistry.aggregate(workers).metrics());
    expect(ours).toContain('seen_total{id="user-288904"} 10');
    expect(ours).toContain('seen_total{id="user-658220"} 12');
  });

  it('no workers: an empty exposition', async () => {
    expect(await render([])).toBe(await AggregatorRegistry.aggregate([]).metrics());
  });
});
