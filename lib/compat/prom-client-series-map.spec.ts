import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { hasUnreadableSeriesMap, promClientSeriesReader } from './prom-client-series-map.js';

/** What the reader lists, as prom-client's own `get()` lists it (labels and value). */
function read(metric: object): { labels: unknown; value: number }[] {
  const reader = promClientSeriesReader(metric);
  if (reader === undefined) throw new Error('no reader');
  return [...reader.series()].map(s => ({ labels: s.labels, value: s.value }));
}

async function viaGet(metric: Counter | Gauge): Promise<{ labels: unknown; value: number }[]> {
  return (await metric.get()).values.map(v => ({ labels: v.labels, value: v.value }));
}

describe('promClientSeriesReader (prom-client 15 Counter/Gauge hashMap)', () => {
  it('lists a counter’s series as get() does, then sees series added, removed and added again', async () => {
    const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['a', 'b'], registers: [] });
    counter.inc({ a: 'x', b: '1' });
    counter.inc({ b: '2', a: 'y' }, 2);
    expect(read(counter)).toEqual(await viaGet(counter));
    // After the first read the map is tracked: new series, removals, values.
    counter.inc({ a: 'z', b: '3' }, 5);
    counter.inc({ a: 'x', b: '1' }, 10);
    expect(read(counter)).toEqual(await viaGet(counter));
    counter.remove({ a: 'x', b: '1' });
    expect(read(counter)).toEqual(await viaGet(counter));
    counter.inc({ a: 'x', b: '1' }, 7);
    counter.remove({ a: 'y', b: '2' });
    counter.inc({ a: 'y', b: '2' });
    const listed = read(counter);
    expect(listed.map(s => s.labels)).toEqual([
      { a: 'z', b: '3' },
      { a: 'x', b: '1' },
      { a: 'y', b: '2' },
    ]);
    expect(listed).toEqual(await viaGet(counter));
  });

  it('follows a gauge’s set/inc/dec and a reset()', async () => {
    const gauge = new Gauge({ name: 'g', help: 'h', labelNames: ['room'], registers: [] });
    gauge.set({ room: 'a' }, 1);
    expect(read(gauge)).toEqual(await viaGet(gauge));
    gauge.inc({ room: 'b' }, 2);
    gauge.dec({ room: 'a' }, 5);
    gauge.set({ room: 'c' }, NaN);
    expect(read(gauge)).toEqual(await viaGet(gauge));
    gauge.reset();
    expect(read(gauge)).toEqual([]);
    gauge.set({ room: 'd' }, 4);
    expect(read(gauge)).toEqual(await viaGet(gauge));
    expect(read(gauge)).toEqual([{ labels: { room: 'd' }, value: 4 }]);
  });

  it('a series added while a reading is under way comes at its end', () => {
    const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['a'], registers: [] });
    counter.inc({ a: '1' });
    counter.inc({ a: '2' });
    const reader = promClientSeriesReader(counter);
    const seen: unknown[] = [];
    for (const s of reader?.series() ?? []) {
      seen.push(s.labels);
      if (seen.length === 1) counter.inc({ a: '3' });
    }
    expect(seen).toEqual([{ a: '1' }, { a: '2' }, { a: '3' }]);
  });

  it('leaves prom-client’s own rendering of the metric unchanged', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['a'], registers: [registry] });
    counter.inc({ a: 'toString' });
    counter.inc({ a: '"q"' }, 2);
    const before = await registry.metrics();
    read(counter);
    expect(await registry.metrics()).toBe(before);
    counter.inc({ a: 'new' });
    expect(await registry.metrics()).toBe(`${before.trimEnd()}\nc_total{a="new"} 1\n`);
    expect(JSON.stringify(await registry.getMetricsAsJSON())).toContain('"new"');
  });

  it('declines what it cannot read exactly: subclasses, collect callbacks, other metric types, other shapes', () => {
    class Custom extends Counter {}
    expect(promClientSeriesReader(new Custom({ name: 'sub_total', help: 'h', registers: [] }))).toBeUndefined();
    const collected = new Gauge({ name: 'col', help: 'h', registers: [], collect: () => undefined });
    expect(promClientSeriesReader(collected)).toBeUndefined();
    expect(hasUnreadableSeriesMap(collected)).toBe(false);
    expect(promClientSeriesReader(new Histogram({ name: 'h', help: 'h', registers: [] }))).toBeUndefined();
    expect(promClientSeriesReader({ name: 'x', hashMap: {} })).toBeUndefined();

    // A prom-client version that keeps its series differently: declined, and flagged for the renderer's warning.
    const changed = new Counter({ name: 'changed_total', help: 'h', labelNames: ['a'], registers: [] });
    changed.inc({ a: '1' });
    (changed as unknown as { hashMap: unknown }).hashMap = new Map([['a:1,', { value: 1, labels: { a: '1' } }]]);
    expect(promClientSeriesReader(changed)).toBeUndefined();
    expect(hasUnreadableSeriesMap(changed)).toBe(true);
    const otherEntries = new Counter({ name: 'other_total', help: 'h', labelNames: ['a'], registers: [] });
    (otherEntries as unknown as { hashMap: unknown }).hashMap = { 'a:1,': { count: 1 } };
    expect(promClientSeriesReader(otherEntries)).toBeUndefined();
    expect(hasUnreadableSeriesMap(otherEntries)).toBe(true);
  });
});
