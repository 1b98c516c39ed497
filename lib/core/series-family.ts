import { overflowLabels } from './overflow-labels.js';
import type { CollectedMetric, Labels, MetricKind, Sample } from './samples.js';

/**
 * A labelled metric whose series are resolved once and then updated by reference, so the hot
 * path costs a field update instead of prom-client's per-call label hashing. Registered in a
 * prom-client `Registry`, which formats, merges and aggregates it like its own metrics.
 */
/** What a family needs of the cardinality guard: implemented by `CardinalityGuard`. */
export interface SeriesLimits {
  readonly maxSeries: number;
  tooLong(value: string | number): boolean;
  labelValue(value: string | number): string | number;
  /** The count of samples diverted from the family `metric` to its overflow series. */
  diverted(metric: string): DivertedSamples;
}

/** A counter of diverted samples (a series of `prometheus_series_overflow_total`). */
export interface DivertedSamples {
  inc(): void;
}

export abstract class SeriesFamily<S extends { readonly labels: Labels }> {
  abstract readonly type: MetricKind;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, S>();
  private guard?: SeriesLimits;
  private overflow?: S;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Holds the metric to the guard's limits from now on (the last module to set one wins). */
  limitBy(guard: SeriesLimits): void {
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

  /**
   * Forgets the series of these label values (in `labelNames` order), if it exists: for a metric
   * whose users remove series themselves (prom-client's `remove`). A caller still holding the
   * series records into a series no scrape reads.
   *
   * @example
   * family.removeSeries(['/users/:id']);
   */
  removeSeries(values: readonly (string | number)[]): void {
    this.series.delete(seriesKey(values));
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

  // eslint-disable-next-line @typescript-eslint/require-await -- part of a Promise-returning contract: a throw must become a rejection
  async get(): Promise<CollectedMetric> {
    const values: Sample[] = [];
    for (const s of this.series.values()) this.collect(s, values);
    if (this.overflow) this.collect(this.overflow, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  protected abstract createSeries(labels: Labels): S;
  /** A series that also counts each sample it takes in `diverted`. */
  protected abstract createOverflowSeries(labels: Labels, diverted: DivertedSamples): S;
  protected abstract resetSeries(series: S): void;
  protected abstract collect(series: S, out: Sample[]): void;
}

/** A map key of label values: JSON, so that no value can make two label sets one key. */
function seriesKey(values: readonly (string | number)[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}
