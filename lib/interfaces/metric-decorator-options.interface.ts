import type {
  CounterConfiguration,
  GaugeConfiguration,
  HistogramConfiguration,
  SummaryConfiguration,
} from 'prom-client';
import type { NativeHistogramOptions } from './prometheus-module-options.interface.js';

/**
 * What a label function sees of one call of a decorated method.
 *
 * @example
 * ```ts
 * @Counter({ name: 'lookups_total', help: 'Lookups', labels: { found: (ctx: MetricCallContext) => String(ctx.result !== undefined) } })
 * ```
 * @public
 */
export interface MetricCallContext<TInstance = unknown> {
  /** The method's arguments. */
  readonly args: readonly unknown[];
  /** The object the method was called on. */
  readonly instance: TInstance;
  /** The return value (resolved for a Promise), after a successful call. */
  readonly result?: unknown;
  /** What the call threw or rejected with, after a failed call. */
  readonly error?: unknown;
  /** The HTTP request (Express `Request` or Fastify `FastifyRequest`) when the method handles one. */
  readonly request?: unknown;
}

/**
 * A label's value: fixed, or computed from the call (results and errors are seen after the call).
 *
 * @example
 * ```ts
 * const labels: Record<string, LabelValue> = { currency: 'EUR', outcome: ctx => (ctx.error ? 'error' : 'ok') };
 * ```
 * @public
 */
export type LabelValue = string | number | ((context: MetricCallContext) => string | number);

interface MetricDecoratorBase {
  /** Label names and their values. A label function that throws gives the value `"error"`. */
  labels?: Record<string, LabelValue>;
}

/**
 * Options of `@Counter`: prom-client's counter configuration without `labelNames`, plus `labels`.
 *
 * @example
 * ```ts
 * const options: CounterDecoratorOptions = { name: 'refunds_failed_total', help: 'Failed refunds', on: 'error' };
 * ```
 * @public
 */
export interface CounterDecoratorOptions
  extends Omit<CounterConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {
  /** Which completed calls to count: all (default), only failed ones, or only successful ones. */
  on?: 'always' | 'error' | 'success';
}

/**
 * Options of `@Histogram`: prom-client's histogram configuration without `labelNames`, plus `labels`
 * and `nativeHistograms`.
 *
 * @example
 * ```ts
 * const options: HistogramDecoratorOptions = { name: 'pay_seconds', help: 'Payment time', buckets: [0.1, 1] };
 * const native: HistogramDecoratorOptions = { name: 'pay_seconds', help: 'Payment time', nativeHistograms: true };
 * ```
 * @public
 */
export interface HistogramDecoratorOptions
  extends Omit<HistogramConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {
  /**
   * Also record the histogram as a native histogram, shown to scrapers that ask for the protobuf
   * exposition; as `http.nativeHistograms`. `true` takes the defaults of {@link NativeHistogramOptions}.
   * Checked at bootstrap. Default `false` (a prom-client `Histogram`).
   */
  nativeHistograms?: boolean | NativeHistogramOptions;
}

/**
 * Options of `@Summary`: prom-client's summary configuration without `labelNames`, plus `labels`.
 *
 * @example
 * ```ts
 * const options: SummaryDecoratorOptions = { name: 'lookup_seconds', help: 'Lookups', percentiles: [0.5, 0.99] };
 * ```
 * @public
 */
export interface SummaryDecoratorOptions
  extends Omit<SummaryConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {}

/**
 * Options of `@Gauge`: prom-client's gauge configuration without `labelNames`, plus `labels`.
 *
 * @example
 * ```ts
 * const options: GaugeDecoratorOptions = { name: 'imports_running', help: 'Imports in progress' };
 * ```
 * @public
 */
export interface GaugeDecoratorOptions
  extends Omit<GaugeConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {}

/**
 * A metric declared with `PrometheusModule.forFeature()`.
 *
 * @example
 * ```ts
 * PrometheusModule.forFeature([{ type: 'counter', name: 'refunds_total', help: 'Refunds', labelNames: ['reason'] }]);
 * PrometheusModule.forFeature([{ type: 'histogram', name: 'refund_seconds', help: 'Refund time', nativeHistograms: true }]);
 * ```
 * @public
 */
export type MetricProviderDefinition =
  | ({ type: 'counter' } & CounterConfiguration<string>)
  | ({ type: 'gauge' } & GaugeConfiguration<string>)
  | ({ type: 'histogram'; nativeHistograms?: boolean | NativeHistogramOptions } & HistogramConfiguration<string>)
  | ({ type: 'summary' } & SummaryConfiguration<string>);
