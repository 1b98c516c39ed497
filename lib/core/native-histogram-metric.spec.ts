import { Registry } from 'prom-client';
import { NativeHistogramMetric } from './native-histogram-metric.js';
import { resolveNativeHistograms } from './native-histogram-options.js';
import type { Sample } from './samples.js';

function metric(labelNames: string[], options: Parameters<typeof resolveNativeHistograms>[0] = true) {
  const native = resolveNativeHistograms(options, 'test');
  if (!native) throw new Error('native histograms off');
  return new NativeHistogramMetric('job_seconds', 'Job time', labelNames, [1, 10], native);
}

/** `_count` samples by their labels (as JSON), with the native snapshot they carry. */
async function counts(m: NativeHistogramMetric): Promise<Map<string, Sample>> {
  const { values } = await m.get();
  return new Map(values.filter(s => s.metricName === 'job_seconds_count').map(s => [JSON.stringify(s.labels), s]));
}

describe('NativeHistogramMetric: prom-client Histogram API over native buckets', () => {
  it('observes in both forms of observe, into classic and native buckets', async () => {
    const m = metric([]);
    m.observe(0.5);
    m.observe({}, 4);
    const count = (await counts(m)).get('{}');
    expect(count?.value).toBe(2);
    expect(count?.native).toMatchObject({ count: 2, sum: 4.5, schema: 3 });
    const { values } = await m.get();
    expect(values.filter(s => s.metricName === 'job_seconds_bucket').map(s => [s.labels.le, s.value])).toEqual([
      [1, 1],
      [10, 2],
      ['+Inf', 2],
    ]);
  });

  it('finds a series by label object, positional values or an object given to labels()', async () => {
    const m = metric(['queue', 'priority']);
    m.observe({ priority: 'high', queue: 'mail' }, 1);
    m.labels('mail', 'high').observe(2);
    m.labels({ queue: 'mail', priority: 'high' }).observe(3);
    m.observe({ queue: 'sms', priority: 'low' }, 5);
    const byLabels = await counts(m);
    expect(byLabels.get(JSON.stringify({ queue: 'mail', priority: 'high' }))?.value).toBe(3);
    expect(byLabels.get(JSON.stringify({ queue: 'sms', priority: 'low' }))?.value).toBe(1);
  });

  it('times with startTimer, merging the labels given at the end', async () => {
    const m = metric(['queue', 'outcome']);
    const end = m.startTimer({ queue: 'mail' });
    const seconds = end({ outcome: 'ok' });
    expect(seconds).toBeGreaterThanOrEqual(0);
    const count = (await counts(m)).get(JSON.stringify({ queue: 'mail', outcome: 'ok' }));
    expect([count?.value, count?.native?.sum]).toEqual([1, seconds]);
  });

  it('creates a series at 0 with zero, forgets one with remove, and zeroes all with reset', async () => {
    const m = metric(['queue']);
    m.zero({ queue: 'idle' });
    m.observe({ queue: 'gone' }, 1);
    m.remove('gone');
    m.observe({ queue: 'kept' }, 1);
    expect([...(await counts(m)).entries()].map(([k, s]) => [k, s.value])).toEqual([
      ['{"queue":"idle"}', 0],
      ['{"queue":"kept"}', 1],
    ]);
    m.reset();
    expect((await counts(m)).get('{"queue":"kept"}')?.native).toMatchObject({ count: 0, sum: 0 });
  });

  it('refuses a value that is not a number, as prom-client does', () => {
    const m = metric([]);
    expect(() => m.observe(Number.NaN)).toThrow('Value is not a valid number: NaN');
    expect(() => m.observe({}, '1' as unknown as number)).toThrow('Value is not a valid number: string');
    expect(() => m.labels().observe(undefined as unknown as number)).toThrow('Value is not a valid number: undefined');
  });

  it('keeps only the +Inf slot with classicBuckets: false, and renders in a prom-client registry', async () => {
    const m = metric([], { classicBuckets: false, bucketFactor: 2 });
    m.observe(3);
    const registry = new Registry();
    registry.registerMetric(m as never);
    expect(await registry.metrics()).toBe(
      [
        '# HELP job_seconds Job time',
        '# TYPE job_seconds histogram',
        'job_seconds_bucket{le="+Inf"} 1',
        'job_seconds_sum 3',
        'job_seconds_count 1',
        '',
      ].join('\n'),
    );
    expect((await counts(m)).get('{}')?.native).toMatchObject({ schema: 0, positive: { offset: 2, counts: [1] } });
  });
});
