import type { ResolvedNativeHistograms } from './native-histogram-options.js';
import { HistogramFamily, type HistogramSeries } from './histogram-family.js';
import type { Labels } from './samples.js';

/**
 * A histogram with native buckets, for `@Histogram` and `makeHistogramProvider` with
 * `nativeHistograms`: our {@link HistogramFamily} (which the protobuf exposition and the cluster
 * aggregation know how to write and merge), with the recording API of prom-client's `Histogram`
 * (`observe`, `labels`, `startTimer`, `zero`, `remove`, `reset`), so that decorated methods and
 * `@InjectMetric` users record into it as into the prom-client histogram they get without the option.
 *
 * Label names that the metric does not have are ignored rather than rejected as prom-client does:
 * checking them would cost an `Object.keys` per observation.
 *
 * @example
 * ```ts
 * const metric = new NativeHistogramMetric('job_seconds', 'Job time', ['queue'], [1, 10], native);
 * metric.observe({ queue: 'mail' }, 0.4);
 * const end = metric.startTimer({ queue: 'mail' });
 * end();
 * ```
 */
export class NativeHistogramMetric extends HistogramFamily {
  /** The series without labels, once used: a metric without labels looks it up once. */
  private unlabelled?: HistogramSeries;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    native: ResolvedNativeHistograms,
  ) {
    // Without classic buckets, a series keeps only the +Inf slot: `_sum` and `_count` in text.
    super(name, help, labelNames, native.classicBuckets ? buckets : [], native.config);
  }

  /** Observes `value` (prom-client's two forms: `observe(value)` and `observe(labels, value)`). */
  observe(labelsOrValue: Labels | number | undefined, value?: number): void {
    if (typeof labelsOrValue === 'number') this.seriesOf(undefined).observe(checked(labelsOrValue));
    else this.seriesOf(labelsOrValue).observe(checked(value));
  }

  /** Creates the series of `labels` (at 0) without observing, as prom-client's `zero`. */
  zero(labels?: Labels): void {
    this.seriesOf(labels);
  }

  /** Starts a timer; the function it returns observes the seconds since, and returns them. */
  startTimer(labels?: Labels): (endLabels?: Labels) => number {
    const start = performance.now();
    return (endLabels?: Labels) => {
      const seconds = (performance.now() - start) / 1000;
      this.observe(endLabels ? { ...labels, ...endLabels } : labels, seconds);
      return seconds;
    };
  }

  /** The series of these label values (positional, in `labelNames` order, or an object), as prom-client's `labels`. */
  labels(...values: (string | number)[] | [Labels]): {
    observe(value: number): void;
    startTimer(): () => number;
  } {
    const labels = this.labelsFrom(values);
    const series = this.seriesOf(labels);
    return {
      observe: (value: number) => series.observe(checked(value)),
      startTimer: () => {
        const end = this.startTimer(labels);
        return () => end();
      },
    };
  }

  /** Removes the series of these label values (positional or an object), as prom-client's `remove`. */
  remove(...values: (string | number)[] | [Labels]): void {
    const labels = this.labelsFrom(values);
    this.removeSeries(this.labelNames.map(n => labels[n] ?? ''));
    if (this.labelNames.length === 0) this.unlabelled = undefined;
  }

  private seriesOf(labels: Labels | undefined): HistogramSeries {
    const names = this.labelNames;
    if (names.length === 0) return (this.unlabelled ??= this.child([]));
    if (names.length === 1) return this.child([labels?.[names[0]] ?? '']);
    const values = new Array<string | number>(names.length);
    for (let i = 0; i < names.length; i++) values[i] = labels?.[names[i]] ?? '';
    return this.child(values);
  }

  private labelsFrom(values: (string | number)[] | [Labels]): Labels {
    const first = values[0];
    if (typeof first === 'object' && first !== null) return first;
    const labels: Labels = {};
    this.labelNames.forEach((name, i) => {
      const value = values[i];
      if (value !== undefined) labels[name] = value as string | number;
    });
    return labels;
  }
}

/** prom-client refuses a value that is not a number; so does this (the caller's error, reported there). */
function checked(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Value is not a valid number: ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}
