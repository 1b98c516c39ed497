import type { CounterSeries } from '../metrics/series-counter.js';
import type { GaugeSeries } from '../metrics/series-gauge.js';
import type { HistogramSeries } from '../metrics/series-histogram.js';
import type { HttpMetrics } from './http-metrics.js';

interface StatusSeries {
  readonly requests: CounterSeries;
  readonly duration: HistogramSeries;
}

/**
 * The series of one route template and method, resolved on the route's first request, so that
 * counting a request is a few map lookups and field updates.
 */
export class RouteSeries {
  readonly inProgress: GaugeSeries;
  private readonly requestSize?: HistogramSeries;
  private readonly responseSize?: HistogramSeries;
  private readonly statuses = new Map<number, StatusSeries>();
  private readonly exceptions = new Map<string, CounterSeries>();

  constructor(
    private readonly metrics: HttpMetrics,
    readonly method: string,
    readonly route: string,
    private readonly groupStatusCodes: boolean,
  ) {
    this.inProgress = metrics.inProgress.child([method, route]);
    this.requestSize = metrics.requestSize?.child([method, route]);
    this.responseSize = metrics.responseSize?.child([method, route]);
  }

  observe(
    status: number,
    seconds: number,
    requestSize: number,
    responseSize: number,
    exception?: string,
    exemplar?: Record<string, string>,
  ): void {
    let s = this.statuses.get(status);
    if (s === undefined) {
      const label = this.groupStatusCodes ? `${Math.floor(status / 100)}xx` : String(status);
      const values = [this.method, this.route, label];
      s = { requests: this.metrics.requests.child(values), duration: this.metrics.duration.child(values) };
      this.statuses.set(status, s);
    }
    if (exemplar === undefined) {
      s.requests.inc();
      s.duration.observe(seconds);
    } else {
      s.requests.incWithExemplar(exemplar);
      s.duration.observeWithExemplar(seconds, exemplar);
    }
    this.requestSize?.observe(requestSize);
    this.responseSize?.observe(responseSize);
    if (exception !== undefined && status >= 500) {
      let e = this.exceptions.get(exception);
      if (e === undefined) {
        e = this.metrics.exceptions.child([this.method, this.route, exception]);
        this.exceptions.set(exception, e);
      }
      e.inc();
    }
  }
}
