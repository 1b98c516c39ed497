import { performance } from 'node:perf_hooks';
import type { CounterFamily, CounterSeries } from '../core/counter-family.js';
import type { GaugeFamily, GaugeSeries } from '../core/gauge-family.js';
import type { HistogramFamily, HistogramSeries } from '../core/histogram-family.js';
import { exceptionName, MAX_CACHED_EXCEPTION_NAMES } from '../core/label-values.js';

/** The default metrics of one transport. Their labels: what identifies a handler, then `outcome`. */
export interface TransportFamilyMetrics {
  /** `<labels>, outcome` */
  requests: CounterFamily;
  /** `<labels>, outcome` */
  duration: HistogramFamily;
  /** The first `inProgressLabels` labels. */
  inProgress?: GaugeFamily;
  /** The first `exceptionLabels` labels, then `exception`. */
  exceptions?: CounterFamily;
}

/**
 * How a transport's handler labels are used, by position in the label values (for microservices
 * `pattern, kind`; WebSockets `gateway, event`; GraphQL `operation_type, field`).
 */
export interface TransportLabelLayout {
  /** The label value `exclude` is matched against. */
  readonly excludeBy: number;
  /** How many leading labels the in-progress gauge has. */
  readonly inProgressLabels: number;
  /** How many leading labels the exceptions counter has before `exception`. */
  readonly exceptionLabels: number;
}

interface OutcomeSeries {
  readonly calls: CounterSeries;
  readonly duration: HistogramSeries;
}

/** The series of one handler (a pattern, an event, a root field), resolved on its first call. */
export class HandlerSeries {
  private readonly success: OutcomeSeries;
  private readonly error: OutcomeSeries;
  private readonly inProgress?: GaugeSeries;
  private readonly exceptions = new Map<string, CounterSeries>();

  constructor(
    private readonly metrics: TransportFamilyMetrics,
    private readonly layout: TransportLabelLayout,
    private readonly values: readonly string[],
  ) {
    const { requests, duration, inProgress } = metrics;
    this.success = { calls: requests.child([...values, 'success']), duration: duration.child([...values, 'success']) };
    this.error = { calls: requests.child([...values, 'error']), duration: duration.child([...values, 'error']) };
    this.inProgress = inProgress?.child(values.slice(0, layout.inProgressLabels));
  }

  start(): number {
    this.inProgress?.inc();
    return performance.now();
  }

  /** A call its guards turned away: an error, never in progress (Nest runs guards before the interceptor). */
  rejected(start: number, error: unknown): void {
    // `end` releases it.
    this.inProgress?.inc();
    this.end(start, true, error);
  }

  end(start: number, failed: boolean, error?: unknown): void {
    this.inProgress?.dec();
    const outcome = failed ? this.error : this.success;
    outcome.calls.inc();
    outcome.duration.observe((performance.now() - start) / 1000);
    const exceptions = this.metrics.exceptions;
    if (!failed || exceptions === undefined) return;
    const name = exceptionName(error);
    let series = this.exceptions.get(name);
    if (series === undefined) {
      series = exceptions.child([...this.values.slice(0, this.layout.exceptionLabels), name]);
      if (this.exceptions.size < MAX_CACHED_EXCEPTION_NAMES) this.exceptions.set(name, series);
    }
    series.inc();
  }
}
