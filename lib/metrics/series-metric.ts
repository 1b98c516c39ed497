import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { overflowLabels } from '../cardinality/overflow-labels.js';
import type { CounterSeries } from './series-counter.js';

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
}

/** What prom-client's `Registry` reads from a metric. */
export interface CollectedMetric {
  name: string;
  help: string;
  type: MetricKind;
  aggregator: 'sum';
  values: Sample[];
}

/**
 * A labelled metric whose series are resolved once and then updated by reference, so the hot
 * path costs a field update instead of prom-client's per-call label hashing. Registered in a
 * prom-client `Registry`, which formats, merges and aggregates it like its own metrics.
 */
export abstract class SeriesMetric<S extends { readonly labels: Labels; readonly labelText: string }> {
  abstract readonly type: MetricKind;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, S>();
  private guard?: CardinalityGuard;
  private overflow?: S;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Holds the metric to the guard's limits from now on (the last module to set one wins). */
  limitBy(guard: CardinalityGuard): void {
    this.guard = guard;
  }

  /**
   * The series of these label values (in `labelNames` order), created on first use. Callers keep
   * the series they get, so this runs once per route or label set, not per sample.
   */
  child(values: readonly (string | number)[]): S {
    let key = seriesKey(values);
    let s = this.series.get(key);
    if (s) return s;
    const guard = this.guard;
    if (guard) {
      if (values.some(v => guard.tooLong(v))) {
        values = values.map(v => guard.labelValue(v));
        key = seriesKey(values);
        s = this.series.get(key);
        if (s) return s;
      }
      if (this.series.size >= guard.maxSeries) {
        this.overflow ??= this.createOverflowSeries(overflowLabels(this.labelNames), guard.diverted(this.name));
        return this.overflow;
      }
    }
    const labels: Labels = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i]));
    s = this.createSeries(labels);
    this.series.set(key, s);
    return s;
  }

  /** Zeroes every series in place: callers keep their references. */
  reset(): void {
    for (const s of this.series.values()) this.resetSeries(s);
    if (this.overflow) this.resetSeries(this.overflow);
  }

  /**
   * Every series, the overflow series last: what a scrape renders (lib/core/exposition reads the
   * series' fields directly instead of building a sample object per line).
   *
   * @example
   * for (const s of metric.allSeries()) lines.push(s.labelText);
   */
  *allSeries(): IterableIterator<S> {
    yield* this.series.values();
    if (this.overflow) yield this.overflow;
  }

  async get(): Promise<CollectedMetric> {
    const values: Sample[] = [];
    for (const s of this.series.values()) this.collect(s, values);
    if (this.overflow) this.collect(this.overflow, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  protected abstract createSeries(labels: Labels): S;
  /** A series that also counts each sample it takes in `diverted`. */
  protected abstract createOverflowSeries(labels: Labels, diverted: CounterSeries): S;
  protected abstract resetSeries(series: S): void;
  protected abstract collect(series: S, out: Sample[]): void;
}

/** A map key of label values: JSON, so that no value can make two label sets one key. */
function seriesKey(values: readonly (string | number)[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}
