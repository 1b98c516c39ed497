import type {
  CounterConfiguration,
  GaugeConfiguration,
  HistogramConfiguration,
  SummaryConfiguration,
} from 'prom-client';

/** What a label function sees of one call of a decorated method. */
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

/** A label's value: fixed, or computed from the call (results and errors are seen after the call). */
export type LabelValue = string | number | ((context: MetricCallContext) => string | number);

interface MetricDecoratorBase {
  /** Label names and their values. A label function that throws gives the value `"error"`. */
  labels?: Record<string, LabelValue>;
}

export interface CounterDecoratorOptions
  extends Omit<CounterConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {
  /** Which completed calls to count: all (default), only failed ones, or only successful ones. */
  on?: 'always' | 'error' | 'success';
}

export interface HistogramDecoratorOptions
  extends Omit<HistogramConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {}

export interface SummaryDecoratorOptions
  extends Omit<SummaryConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {}

export interface GaugeDecoratorOptions
  extends Omit<GaugeConfiguration<string>, 'labelNames' | 'collect' | 'registers'>, MetricDecoratorBase {}

/** A metric declared with `PrometheusModule.forFeature()`. */
export type MetricProviderDefinition =
  | ({ type: 'counter' } & CounterConfiguration<string>)
  | ({ type: 'gauge' } & GaugeConfiguration<string>)
  | ({ type: 'histogram' } & HistogramConfiguration<string>)
  | ({ type: 'summary' } & SummaryConfiguration<string>);
