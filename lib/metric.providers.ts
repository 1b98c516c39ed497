import type { FactoryProvider, InjectionToken, OptionalFactoryDependency, Provider } from '@nestjs/common';
import {
  type Counter,
  type CounterConfiguration,
  type Gauge,
  type GaugeConfiguration,
  register as globalRegistry,
  type Histogram,
  type HistogramConfiguration,
  type MetricConfiguration,
  type Summary,
  type SummaryConfiguration,
} from 'prom-client';
import { getToken } from './decorators/inject-metric.decorator.js';
import type { MetricProviderDefinition, NativeHistogramOptions } from './interfaces/index.js';
import { findOrCreatePromMetric } from './core/prom-metrics.js';
import type { MetricKind } from './core/samples.js';
import { PROMETHEUS_OPTIONS } from './runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from './interfaces/resolved-options.interface.js';

/**
 * Tokens whose providers a metric provider's `collect` receives, in this order.
 *
 * @example
 * ```ts
 * makeGaugeProvider({ name: 'queue_size', help: 'Jobs waiting', inject: [QueueService], collect(queue: QueueService) {} });
 * ```
 * @public
 */
export type MetricProviderInject = Array<InjectionToken | OptionalFactoryDependency>;

/**
 * `inject` and a `collect` that receives the injected providers, as in `@willsoto/nestjs-prometheus`.
 *
 * @example
 * ```ts
 * makeGaugeProvider({
 *   name: 'queue_size',
 *   help: 'Jobs waiting',
 *   inject: [QueueService],
 *   async collect(queue: QueueService) {
 *     this.set(await queue.waitingCount());
 *   },
 * });
 * ```
 *
 * @public
 */
export interface MetricProviderInjectable<T> {
  /** Providers to resolve and pass to `collect`, in this order. */
  inject?: MetricProviderInject;
  /**
   * Called at every scrape with `this` bound to the metric and the `inject`ed providers as
   * arguments. One that throws or rejects leaves its metric without samples in that scrape; the
   * other metrics are still served.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the injected providers are typed by the user
  collect?: (this: T, ...injected: any[]) => void | Promise<void>;
}

type Config<C, M> = Omit<C, 'collect'> & MetricProviderInjectable<M>;

/**
 * The provider of one metric. It asks for the module's resolved options, optionally, as
 * `@willsoto/nestjs-prometheus`'s providers do: with `PrometheusModule` the metric lives in the
 * module's registry and takes `customMetricPrefix`; alone (the usual unit test), in prom-client's
 * global registry.
 */
function makeProvider(
  type: MetricKind,
  config: Config<MetricConfiguration<string>, unknown>,
  declaredBy: string,
): FactoryProvider {
  if (typeof config !== 'object' || config === null)
    throw new Error(`${declaredBy}: the metric's configuration must be an object`);
  const { inject = [], collect, ...metricConfig } = config;
  if (!Array.isArray(inject)) throw new Error(`${declaredBy}: inject must be an array of injection tokens`);
  if (collect !== undefined && typeof collect !== 'function') {
    throw new Error(`${declaredBy}: collect must be a function`);
  }
  // A native histogram is our series family, which has no per-scrape hook to call `collect` from;
  // and a histogram filled at scrape time has no observations for native buckets to add to.
  const native = (metricConfig as { nativeHistograms?: unknown }).nativeHistograms;
  if (collect !== undefined && native !== undefined && native !== false) {
    throw new Error(`${declaredBy}: collect cannot be combined with nativeHistograms`);
  }
  return {
    provide: getToken(metricConfig.name),
    useFactory: (options: ResolvedPrometheusOptions | undefined, ...injected: unknown[]) => {
      const registry = options?.registry ?? globalRegistry;
      const prefix = options?.customMetricPrefix;
      const name = prefix ? `${prefix}_${metricConfig.name}` : metricConfig.name;
      const metric = findOrCreatePromMetric(registry, type, { ...metricConfig, name }, declaredBy);
      if (collect) {
        // Set on the metric even when it existed already (a second app in the process, hot reload):
        // the collect of the newest providers, not of a closed app's.
        (metric as { collect?: () => unknown }).collect = function collectInjected(this: unknown) {
          return collect.call(this, ...injected);
        };
      }
      return metric;
    },
    inject: [{ token: PROMETHEUS_OPTIONS, optional: true }, ...inject],
  };
}

/**
 * A provider of a prom-client `Counter`, injected with `@InjectMetric(name)`. Arguments as in
 * `@willsoto/nestjs-prometheus`, `inject` and `collect` included.
 *
 * @example
 * ```ts
 * @Module({ providers: [makeCounterProvider({ name: 'orders_total', help: 'Orders', labelNames: ['status'] })] })
 * export class OrdersModule {}
 * ```
 *
 * @public
 */
export function makeCounterProvider(config: Config<CounterConfiguration<string>, Counter>): Provider {
  return makeProvider(
    'counter',
    config as Config<MetricConfiguration<string>, unknown>,
    `makeCounterProvider(${config?.name})`,
  );
}

/**
 * A provider of a prom-client `Gauge`, injected with `@InjectMetric(name)`.
 *
 * @example
 * ```ts
 * makeGaugeProvider({ name: 'queue_size', help: 'Jobs waiting', inject: [Queue], collect(q: Queue) { this.set(q.size) } });
 * ```
 *
 * @public
 */
export function makeGaugeProvider(config: Config<GaugeConfiguration<string>, Gauge>): Provider {
  return makeProvider(
    'gauge',
    config as Config<MetricConfiguration<string>, unknown>,
    `makeGaugeProvider(${config?.name})`,
  );
}

/**
 * A provider of a prom-client `Histogram`, injected with `@InjectMetric(name)`. With
 * `nativeHistograms` (as `@Histogram`'s; not with `collect`), the metric also keeps native buckets
 * and has the recording API of a `Histogram` (`observe`, `labels`, `startTimer`, `zero`, `remove`, `reset`).
 *
 * @example
 * ```ts
 * makeHistogramProvider({ name: 'job_seconds', help: 'Job duration', buckets: [1, 10, 60] });
 * makeHistogramProvider({ name: 'task_seconds', help: 'Task duration', nativeHistograms: { bucketFactor: 1.05 } });
 * ```
 *
 * @public
 */
export function makeHistogramProvider(
  config: Config<HistogramConfiguration<string>, Histogram> & { nativeHistograms?: boolean | NativeHistogramOptions },
): Provider {
  return makeProvider(
    'histogram',
    config as Config<MetricConfiguration<string>, unknown>,
    `makeHistogramProvider(${config?.name})`,
  );
}

/**
 * A provider of a prom-client `Summary`, injected with `@InjectMetric(name)`.
 *
 * @example
 * ```ts
 * makeSummaryProvider({ name: 'job_seconds', help: 'Job duration', percentiles: [0.5, 0.99] });
 * ```
 *
 * @public
 */
export function makeSummaryProvider(config: Config<SummaryConfiguration<string>, Summary>): Provider {
  return makeProvider(
    'summary',
    config as Config<MetricConfiguration<string>, unknown>,
    `makeSummaryProvider(${config?.name})`,
  );
}

/** Providers for `PrometheusModule.forFeature()`. */
export function makeMetricProviders(definitions: readonly MetricProviderDefinition[]): Provider[] {
  return definitions.map(({ type, ...config }) =>
    makeProvider(
      type,
      config as Config<MetricConfiguration<string>, unknown>,
      `PrometheusModule.forFeature(${config.name})`,
    ),
  );
}
