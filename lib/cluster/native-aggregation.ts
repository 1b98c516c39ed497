import { mergeNativeHistograms, type NativeHistogramSnapshot } from '../core/native-histogram.js';

/** A metric family as workers send it (`getMetricsAsJSON()`), with native buckets on `_count` samples. */
interface WorkerFamily {
  name: string;
  type: string;
  values: { labels: Record<string, string | number>; metricName?: string; native?: NativeHistogramSnapshot }[];
}

/** Whether a worker's `native` has the shape this version writes (a worker of another may differ). */
function isSnapshot(value: unknown): value is NativeHistogramSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<NativeHistogramSnapshot>;
  const side = (s: unknown) =>
    typeof s === 'object' &&
    s !== null &&
    Number.isInteger((s as { offset?: unknown }).offset) &&
    Array.isArray((s as { counts?: unknown }).counts);
  return Number.isInteger(v.schema) && typeof v.count === 'number' && side(v.positive) && side(v.negative);
}

/** A label set as a key that does not depend on the order of its labels. */
function labelKey(labels: Record<string, string | number>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map(name => [name, String(labels[name])]),
  );
}

/**
 * Sums the native histograms of the cluster's workers, series by series (schemas reconciled to
 * the coarser), onto the aggregate prom-client's `AggregatorRegistry` made of their classic
 * samples (which drops the native buckets). Families of `aggregated` are changed in place: each
 * histogram's `_count` sample gets the merged `native` of its label set.
 *
 * @example
 * const aggregated = await AggregatorRegistry.aggregate(perWorker).getMetricsAsJSON();
 * addNativeHistograms(aggregated, perWorker);
 */
export function addNativeHistograms(aggregated: readonly object[], perWorker: readonly unknown[]): void {
  const merged = new Map<string, Map<string, NativeHistogramSnapshot>>();
  for (const families of perWorker) {
    // Each is what one worker sent over IPC: checked, not trusted.
    if (!Array.isArray(families)) continue;
    for (const family of families as readonly WorkerFamily[]) {
      if (typeof family !== 'object' || family === null) continue;
      if (family.type !== 'histogram' || !Array.isArray(family.values)) continue;
      const countName = `${family.name}_count`;
      for (const sample of family.values) {
        const native = sample.native;
        if (sample.metricName !== countName || !isSnapshot(native)) continue;
        let series = merged.get(family.name);
        if (series === undefined) merged.set(family.name, (series = new Map<string, NativeHistogramSnapshot>()));
        const key = labelKey(sample.labels);
        const before = series.get(key);
        series.set(key, before === undefined ? native : mergeNativeHistograms(before, native));
      }
    }
  }
  if (merged.size === 0) return;
  for (const family of aggregated as readonly WorkerFamily[]) {
    const series = merged.get(family.name);
    if (series === undefined) continue;
    const countName = `${family.name}_count`;
    for (const sample of family.values) {
      if (sample.metricName !== countName) continue;
      const native = series.get(labelKey(sample.labels));
      if (native !== undefined) sample.native = native;
    }
  }
}
