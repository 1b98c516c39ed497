import type { CounterSeries } from '../core/counter-family.js';
import type { GaugeSeries } from '../core/gauge-family.js';
import type { HistogramSeries } from '../core/histogram-family.js';
import type { TransportFamily } from './transport-family.js';
import { exceptionName, MAX_CACHED_EXCEPTION_NAMES } from '../core/label-values.js';

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
    private readonly family: TransportFamily,
    private readonly values: readonly string[],
  ) {
    const { requests, duration, inProgress } = family.metrics;
    this.success = { calls: requests.child([...values, 'success']), duration: duration.child([...values, 'success']) };
    this.error = { calls: requests.child([...values, 'error']), duration: duration.child([...values, 'error']) };
    this.inProgress = inProgress?.child(values.slice(0, family.inProgressLabels));
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
    const exceptions = this.family.metrics.exceptions;
    if (!failed || exceptions === undefined) return;
    const name = exceptionName(error);
    let series = this.exceptions.get(name);
    if (series === undefined) {
      series = exceptions.child([...this.values.slice(0, this.family.exceptionLabels), name]);
      if (this.exceptions.size < MAX_CACHED_EXCEPTION_NAMES) this.exceptions.set(name, series);
    }
    series.inc();
  }
}
