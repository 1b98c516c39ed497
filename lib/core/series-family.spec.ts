import { Registry } from 'prom-client';
import { CardinalityGuard, OVERFLOW_METRIC } from './cardinality-guard.js';
import { CounterFamily } from './counter-family.js';
import { GaugeFamily } from './gauge-family.js';
import { HistogramFamily } from './histogram-family.js';
import { registerCollectableMetric } from '../compat/prom-client.js';

// The series engine: a family resolves a label set to a series once, and samples are field updates.

describe('CounterFamily', () => {
  it('returns the same series for the same label values, in labelNames order', async () => {
    const family = new CounterFamily('jobs_total', 'Jobs', ['queue', 'outcome']);
    const a = family.child(['mail', 'ok']);
    a.inc();
    family.child(['mail', 'ok']).inc();
    family.child(['mail', 'failed']).inc();
    expect(family.child(['mail', 'ok'])).toBe(a);
    const { values } = await family.get();
    expect(values).toEqual([
      { labels: { queue: 'mail', outcome: 'ok' }, value: 2 },
      { labels: { queue: 'mail', outcome: 'failed' }, value: 1 },
    ]);
  });

  it('keeps label sets apart whatever their values contain (no separator can merge two)', () => {
    const family = new CounterFamily('x_total', 'x', ['a', 'b']);
    expect(family.child(['a,b', 'c'])).not.toBe(family.child(['a', 'b,c']));
    expect(family.child(['1', '2'])).not.toBe(family.child(['2', '1']));
  });

  it('reset() zeroes every series in place: references held by callers keep counting', async () => {
    const family = new CounterFamily('r_total', 'r', ['k']);
    const held = family.child(['v']);
    held.inc();
    family.reset();
    held.inc();
    expect((await family.get()).values).toEqual([{ labels: { k: 'v' }, value: 1 }]);
  });

  it("past the guard's maxSeries, new label sets share one __overflow__ series and are counted as diverted", async () => {
    const registry = new Registry();
    const guard = new CardinalityGuard(registry, { maxSeries: 2, maxLabelValueLength: Infinity });
    const family = new CounterFamily('users_total', 'Users', ['id']);
    family.limitBy(guard);
    for (const id of ['1', '2', '3', '4']) family.child([id]).inc();
    const values = (await family.get()).values.map(v => [v.labels.id, v.value]);
    expect(values).toEqual([
      ['1', 1],
      ['2', 1],
      ['__overflow__', 2],
    ]);
    const diverted = await (registry.getSingleMetric(OVERFLOW_METRIC) as unknown as CounterFamily).get();
    expect(diverted.values).toEqual([{ labels: { metric: 'users_total' }, value: 2 }]);
  });

  it('truncates label values longer than maxLabelValueLength before keying them', () => {
    const guard = new CardinalityGuard(new Registry(), { maxSeries: Infinity, maxLabelValueLength: 4 });
    const family = new CounterFamily('t_total', 't', ['path']);
    family.limitBy(guard);
    const series = family.child(['/abcdef']);
    expect(series.labels).toEqual({ path: '/abc' });
    expect(family.child(['/abcxyz'])).toBe(series);
  });
});

describe('GaugeFamily and HistogramFamily', () => {
  it('a gauge goes up and down per series', async () => {
    const family = new GaugeFamily('open', 'Open', ['gateway']);
    const s = family.child(['chat']);
    s.inc();
    s.inc();
    s.dec();
    expect((await family.get()).values).toEqual([{ labels: { gateway: 'chat' }, value: 1 }]);
  });

  it('a histogram renders cumulative buckets, le first, then _sum and _count, as prom-client would', async () => {
    const registry = new Registry();
    const family = new HistogramFamily('latency_seconds', 'Latency', ['route'], [0.1, 1]);
    registerCollectableMetric(registry, family);
    const s = family.child(['/a']);
    s.observe(0.05);
    s.observe(0.5);
    s.observe(0.1);
    s.observe(3);
    expect(await registry.metrics()).toBe(
      [
        '# HELP latency_seconds Latency',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{le="0.1",route="/a"} 2',
        'latency_seconds_bucket{le="1",route="/a"} 3',
        'latency_seconds_bucket{le="+Inf",route="/a"} 4',
        'latency_seconds_sum{route="/a"} 3.65',
        'latency_seconds_count{route="/a"} 4',
        '',
      ].join('\n'),
    );
  });
});
