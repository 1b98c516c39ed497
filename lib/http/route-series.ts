import { CounterSeries } from '../core/counter-family.js';
import { OVERFLOW_LABEL_VALUE } from '../core/core.constants.js';
import { GaugeSeries } from '../core/gauge-family.js';
import type { HistogramSeries } from '../core/histogram-family.js';
import type { HttpMetrics } from './http-metrics.js';
import { MAX_CACHED_EXCEPTION_NAMES } from '../core/label-values.js';

type LabelValues = readonly (string | number)[];

/** What a request's duration is recorded in: a histogram series, a summary's child, or nothing. */
interface DurationSeries {
  observe(seconds: number): void;
  observeWithExemplar(seconds: number, exemplar: Record<string, string>): void;
}

interface StatusSeries {
  readonly requests: CounterSeries;
  readonly duration: DurationSeries;
}

// Stand-ins for metrics switched off: recording into them keeps the hot path free of checks.
const OFF_COUNTER = new CounterSeries({});
const OFF_GAUGE = new GaugeSeries({});
const OFF_DURATION: DurationSeries = { observe() {}, observeWithExemplar() {} };

/**
 * The series of one route template and method (and values of the extra `http.labels`), resolved
 * on the route's first request, so that counting a request is a few map lookups and field updates.
 */
export class RouteSeries {
  readonly inProgress: GaugeSeries;
  private readonly requestSize?: HistogramSeries;
  private readonly responseSize?: HistogramSeries;
  private readonly statuses = new Map<number, StatusSeries>();
  private readonly exceptions = new Map<string, CounterSeries>();
  private variants?: Map<string, RouteSeries>;
  private overflowVariant?: RouteSeries;

  constructor(
    private readonly metrics: HttpMetrics,
    readonly method: string,
    readonly route: string,
    private readonly groupStatusCodes: boolean,
    private readonly extra: LabelValues = [],
    inProgress?: GaugeSeries,
  ) {
    // In progress is counted per route only: a request enters it before extra labels are read.
    this.inProgress = inProgress ?? metrics.inProgress?.child([method, route]) ?? OFF_GAUGE;
    this.requestSize = metrics.requestSize?.child([method, route, ...extra]);
    this.responseSize = metrics.responseSize?.child([method, route, ...extra]);
  }

  /**
   * The series of this route for these values of the extra labels, already truncated to
   * `maxLabelValueLength` (so values alike up to there are one key, and no long value is kept).
   * At most `maxSeriesPerMetric` label sets are kept across all routes: values from requests must
   * not grow memory without bound. Past that, the metrics are full: new label sets are recorded
   * under the overflow series and not kept.
   */
  variant(values: LabelValues): RouteSeries {
    const key = values.length === 1 ? String(values[0]) : JSON.stringify(values);
    this.variants ??= new Map();
    let v = this.variants.get(key);
    if (v === undefined) {
      const metrics = this.metrics;
      if (metrics.extraLabelSets >= metrics.guard.maxSeries) {
        this.overflowVariant ??= this.newVariant(values.map(() => OVERFLOW_LABEL_VALUE));
        return this.overflowVariant;
      }
      metrics.extraLabelSets++;
      v = this.newVariant(values);
      this.variants.set(key, v);
    }
    return v;
  }

  private newVariant(values: LabelValues): RouteSeries {
    return new RouteSeries(this.metrics, this.method, this.route, this.groupStatusCodes, values, this.inProgress);
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
      s = this.statusSeries(status);
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
    if (exception !== undefined && status >= 500 && this.metrics.exceptions !== undefined) {
      let e = this.exceptions.get(exception);
      if (e === undefined) {
        e = this.metrics.exceptions.child([this.method, this.route, exception, ...this.extra]);
        // Bounded: the metric itself caps its series; past the cap here, it is asked each time.
        if (this.exceptions.size < MAX_CACHED_EXCEPTION_NAMES) this.exceptions.set(exception, e);
      }
      e.inc();
    }
  }

  private statusSeries(status: number): StatusSeries {
    const label = this.groupStatusCodes ? `${Math.floor(status / 100)}xx` : String(status);
    const values = [this.method, this.route, label, ...this.extra];
    const { requests, duration, durationSummary, guard } = this.metrics;
    let durationSeries: DurationSeries = duration?.child(values) ?? OFF_DURATION;
    if (durationSummary) {
      const names = ['method', 'route', 'status_code', ...(this.metrics.extraLabelNames ?? [])];
      const labels: Record<string, string | number> = {};
      names.forEach((n, i) => (labels[n] = guard.labelValue(values[i])));
      const child = durationSummary.labels(guard.admit(durationSummary, names, labels));
      durationSeries = { observe: v => child.observe(v), observeWithExemplar: v => child.observe(v) };
    }
    return { requests: requests?.child(values) ?? OFF_COUNTER, duration: durationSeries };
  }
}
