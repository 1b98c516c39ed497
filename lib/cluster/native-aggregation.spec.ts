import { AggregatorRegistry, Registry } from 'prom-client';
import { decodeProtobufExposition, labelsOf, nativeBuckets } from '../../test/utils/protobuf-exposition.js';
import { encodeMetricFamilies, type JsonMetricFamily } from '../core/exposition/protobuf.js';
import { resolveNativeHistograms } from '../core/native-histogram-options.js';
import { coarsen, NativeHistogram, resolveNativeHistogramConfig, toSpans } from '../core/native-histogram.js';
import { registerCollectableMetric } from '../compat/prom-client.js';
import { HistogramFamily } from '../core/histogram-family.js';
import { addNativeHistograms } from './native-aggregation.js';

/** One worker's registry as the primary receives it: `getMetricsAsJSON()` through JSON (IPC). */
async function workerMetrics(observations: Record<string, number[]>, maxBuckets?: number): Promise<object[]> {
  const registry = new Registry();
  const native = resolveNativeHistograms({ bucketFactor: 1.2, maxBuckets }, 'test');
  if (!native) throw new Error('native histograms off');
  const histogram = new HistogramFamily('latency_seconds', 'Latency', ['route'], [0.5, 1], native.config);
  registerCollectableMetric(registry, histogram);
  for (const [route, values] of Object.entries(observations)) {
    const series = histogram.child([route]);
    for (const v of values) series.observe(v);
  }
  return JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as object[];
}

describe('addNativeHistograms', () => {
  it('sums the workers native histograms series by series, at the coarser schema', async () => {
    const a = await workerMetrics({ '/a': [0.1, 1, 1.2], '/b': [3] });
    // Few buckets allowed: this worker's series is at a lower schema.
    const b = await workerMetrics({ '/a': [1.4, 1.8, 2, 0.3] }, 2);
    const perWorker = [a, b] as Parameters<typeof AggregatorRegistry.aggregate>[0];
    const aggregated = await AggregatorRegistry.aggregate(perWorker).getMetricsAsJSON();
    addNativeHistograms(aggregated, perWorker);

    const [family] = decodeProtobufExposition(encodeMetricFamilies(aggregated as unknown as JsonMetricFamily[]));
    const byRoute = new Map(family.metric.map(m => [labelsOf(m).route, m.histogram]));
    const merged = byRoute.get('/a');
    expect(merged?.sample_count).toBe(7);
    expect(merged?.sample_sum).toBeCloseTo(7.8, 12);
    // Worker b coarsened to hold 2 buckets: the merge is at its schema, and holds what one
    // histogram of all seven values holds at that schema.
    const schema = merged?.schema ?? NaN;
    expect(schema).toBeLessThan(2);
    const reference = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2 }));
    for (const v of [0.1, 1, 1.2, 1.4, 1.8, 2, 0.3]) reference.observe(v);
    const { spans, deltas } = toSpans(coarsen(reference.snapshot().positive, 2 - schema));
    expect(nativeBuckets(merged?.positive_span ?? [], merged?.positive_delta ?? [])).toEqual(
      nativeBuckets(
        spans.map(([offset, length]) => ({ offset, length })),
        deltas,
      ),
    );
    // A series of one worker only is passed on as it was.
    expect(byRoute.get('/b')?.sample_count).toBe(1);
    expect(nativeBuckets(byRoute.get('/b')?.positive_span ?? [], byRoute.get('/b')?.positive_delta ?? []).size).toBe(1);
  });
});
