import { labelPairs } from './exposition/escape.js';
import { NativeHistogram, type NativeHistogramConfig } from './native-histogram.js';
import { type DivertedSamples, SeriesFamily } from './series-family.js';
import { type Exemplar, exemplarFits, type Labels, type Sample } from './samples.js';

export class HistogramSeries {
  /** Non-cumulative counts; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** The latest exemplar of each bucket (non-cumulative slots), once there is one. */
  exemplars?: (Exemplar | undefined)[];
  /** The native buckets, when the metric has native histograms on. */
  readonly native?: NativeHistogram;
  /** The labels as exposition text (`a="x",b="y"`), escaped once here rather than at every scrape. */
  readonly labelText: string;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
    native?: NativeHistogramConfig,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    // Assigned either way: one object shape for every series keeps `observe` monomorphic.
    this.native = native === undefined ? undefined : new NativeHistogram(native);
    this.labelText = labelPairs(labels);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
    const native = this.native;
    if (native !== undefined) native.observe(value);
  }

  /** Observes, and keeps `labelSet` as the latest exemplar of the value's bucket if it fits OpenMetrics' limit. */
  observeWithExemplar(value: number, labelSet: Record<string, string>): void {
    this.observe(value);
    if (!exemplarFits(labelSet)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.exemplars ??= new Array<Exemplar | undefined>(bounds.length + 1);
    this.exemplars[i] = { labelSet, value, timestamp: Date.now() / 1000 };
  }
}

/** The overflow series: counts each observation it takes as diverted too. */
class OverflowHistogramSeries extends HistogramSeries {
  constructor(
    labels: Labels,
    bounds: readonly number[],
    native: NativeHistogramConfig | undefined,
    private readonly diverted: DivertedSamples,
  ) {
    super(labels, bounds, native);
  }
  override observe(value: number): void {
    super.observe(value);
    this.diverted.inc();
  }
}

export class HistogramFamily extends SeriesFamily<HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    /** The layout of each series' native histogram; none when native histograms are off. */
    readonly native?: NativeHistogramConfig,
  ) {
    super(name, help, labelNames);
  }

  protected createSeries(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.buckets, this.native);
  }
  protected createOverflowSeries(labels: Labels, diverted: DivertedSamples): HistogramSeries {
    return new OverflowHistogramSeries(labels, this.buckets, this.native, diverted);
  }
  protected resetSeries(s: HistogramSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
    s.exemplars = undefined;
    s.native?.reset();
  }
  protected collect(s: HistogramSeries, out: Sample[]): void {
    const bucket = `${this.name}_bucket`;
    // `le` first, as prom-client writes its own histograms, so every histogram of the registry
    // (the module's and the app's) reads alike and the README shows what is written.
    let cumulative = 0;
    const exemplars = s.exemplars;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += s.counts[i];
      const sample: Sample = { labels: { le: this.buckets[i], ...s.labels }, value: cumulative, metricName: bucket };
      if (exemplars?.[i]) sample.exemplar = exemplars[i];
      out.push(sample);
    }
    const inf: Sample = { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket };
    if (exemplars?.[this.buckets.length]) inf.exemplar = exemplars[this.buckets.length];
    out.push(inf);
    out.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
    const count: Sample = { labels: s.labels, value: s.count, metricName: `${this.name}_count` };
    // Carried on `_count` so that default labels reach it too; only the protobuf exposition reads it.
    if (s.native !== undefined) count.native = s.native.snapshot();
    out.push(count);
  }
}
