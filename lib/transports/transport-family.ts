import type { ResolvedTransportOptions } from '../interfaces/resolved-options.interface.js';
import { HandlerSeries, type TransportFamilyMetrics, type TransportLabelLayout } from './handler-series.js';
import { matchesPattern } from '../core/label-values.js';

/**
 * The default metrics of one transport (microservices, WebSockets, GraphQL), and the series of
 * each handler, resolved once per handler from what identifies it (pattern, event, root field).
 */
export class TransportFamily {
  private readonly handlers = new WeakMap<object, HandlerSeries | null>();

  constructor(
    readonly metrics: TransportFamilyMetrics,
    private readonly options: ResolvedTransportOptions,
    private readonly layout: TransportLabelLayout,
  ) {}

  /** The series of a handler seen before (`null`: excluded), or `undefined` on its first call. */
  cached(handler: object): HandlerSeries | null | undefined {
    return this.handlers.get(handler);
  }

  /** Resolves a handler's series from its label values, on its first call. */
  resolve(handler: object, values: string[]): HandlerSeries | null {
    const series = this.isExcluded(values[this.layout.excludeBy])
      ? null
      : new HandlerSeries(this.metrics, this.layout, values);
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
