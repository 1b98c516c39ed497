// The shapes prom-client's registry reads from a metric (and cluster workers send as JSON): the
// vocabulary every part of the engine shares, in a file of its own so that none of them import
// each other for it.

import type { NativeHistogramSnapshot } from './native-histogram.js';

export type Labels = Record<string, string | number>;
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** An exemplar as prom-client's registry formats it (OpenMetrics only); `timestamp` in seconds. */
export interface Exemplar {
  labelSet: Record<string, string>;
  value: number;
  timestamp: number;
}

/** OpenMetrics 1.0: an exemplar's label names and values together hold at most this many code points. */
export const MAX_EXEMPLAR_LABELS_LENGTH = 128;

/**
 * Whether an exemplar's labels fit OpenMetrics' limit. One too long makes the whole OpenMetrics
 * scrape invalid for strict parsers, so it is dropped (the series keeps its previous exemplar);
 * truncating would silently point at the wrong trace. Counts code points only when UTF-16 units
 * exceed the limit, so the common case is a loop over one or two short strings.
 *
 * @example
 * if (exemplarFits(labelSet)) series.exemplar = { labelSet, value: 1, timestamp: Date.now() / 1000 };
 */
export function exemplarFits(labelSet: Record<string, string>): boolean {
  let units = 0;
  for (const name in labelSet) units += name.length + String(labelSet[name]).length;
  if (units <= MAX_EXEMPLAR_LABELS_LENGTH) return true;
  let codePoints = 0;
  for (const name in labelSet) {
    for (const _ of name) codePoints++;
    for (const _ of String(labelSet[name])) codePoints++;
  }
  return codePoints <= MAX_EXEMPLAR_LABELS_LENGTH;
}

/** One sample as prom-client's registry formats it. */
export interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
  exemplar?: Exemplar;
  /** On a histogram's `_count` sample: its native buckets (only the protobuf exposition shows them). */
  native?: NativeHistogramSnapshot;
}

/** What prom-client's `Registry` reads from a metric. */
export interface CollectedMetric {
  name: string;
  help: string;
  type: MetricKind;
  aggregator: 'sum';
  values: Sample[];
}
