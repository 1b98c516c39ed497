import type { CounterFamily } from '../core/counter-family.js';
import type { GaugeFamily } from '../core/gauge-family.js';
import type { HistogramFamily } from '../core/histogram-family.js';
import type { ResolvedTransportOptions } from '../interfaces/resolved-options.interface.js';
import { HandlerSeries } from './handler-series.js';
import { matchesPattern } from '../core/label-values.js';

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
 * The default metrics of one transport (microservices, WebSockets, GraphQL), and the series of
 * each handler, resolved once per handler from what identifies it (pattern, event, root field).
 */
export class TransportFamily {
  private readonly handlers = new WeakMap<object, HandlerSeries | null>();

  constructor(
    readonly metrics: TransportFamilyMetrics,
    private readonly options: ResolvedTransportOptions,
    /** Which label value `exclude` is matched against. */
    private readonly excludeBy: number,
    readonly inProgressLabels: number,
    readonly exceptionLabels: number,
  ) {}

  /** The series of a handler seen before (`null`: excluded), or `undefined` on its first call. */
  cached(handler: object): HandlerSeries | null | undefined {
    return this.handlers.get(handler);
  }

  /** Resolves a handler's series from its label values, on its first call. */
  resolve(handler: object, values: string[]): HandlerSeries | null {
    const series = this.isExcluded(values[this.excludeBy]) ? null : new HandlerSeries(this, values);
    this.handlers.set(handler, series);
    return series;
  }

  /** Records a handler as not measured (a handler without the interceptor): its calls are not counted. */
  skip(handler: object): null {
    this.handlers.set(handler, null);
    return null;
  }

  private isExcluded(value: string): boolean {
    return this.options.exclude.some(e => matchesPattern(e, value));
  }
}
