export type Labels = Record<string, string | number>;
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** One sample as prom-client's registry formats it. */
export interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
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
export abstract class SeriesMetric<S extends { readonly labels: Labels }> {
  abstract readonly type: MetricKind;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series of these label values (in `labelNames` order), created on first use. */
  child(values: readonly (string | number)[]): S {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      s = this.createSeries(labels);
      this.series.set(key, s);
    }
    return s;
  }

  /** Zeroes every series in place: callers keep their references. */
  reset(): void {
    for (const s of this.series.values()) this.resetSeries(s);
  }

  async get(): Promise<CollectedMetric> {
    const values: Sample[] = [];
    for (const s of this.series.values()) this.collect(s, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  protected abstract createSeries(labels: Labels): S;
  protected abstract resetSeries(series: S): void;
  protected abstract collect(series: S, out: Sample[]): void;
}
