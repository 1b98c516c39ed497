import { Counter, Gauge, Histogram, type MetricConfiguration, type Registry, Summary } from 'prom-client';
import type { NativeHistogramOptions } from '../interfaces/prometheus-module-options.interface.js';
import { findOrRegisterMetric } from './metric-registrar.js';
import { NativeHistogramMetric } from './native-histogram-metric.js';
import { resolveNativeHistograms } from './native-histogram-options.js';
import type { MetricKind } from './samples.js';

/**
 * A metric of decorators and make*Provider: prom-client's, or for a histogram with
 * `nativeHistograms`, a {@link NativeHistogramMetric} (which records through the same API).
 */
export type PromMetric = Counter | Gauge | Histogram | Summary | NativeHistogramMetric;

const KINDS = { counter: Counter, gauge: Gauge, histogram: Histogram, summary: Summary } as const;

/** prom-client's default histogram buckets, to compare two definitions that leave them out. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The prom-client metric of this definition in the registry: created once, then shared by every
 * decorator, provider and app that declares the same definition.
 */
export function findOrCreatePromMetric(
  registry: Registry,
  type: MetricKind,
  config: MetricConfiguration<string> & {
    buckets?: number[];
    percentiles?: number[];
    maxAgeSeconds?: number;
    ageBuckets?: number;
    nativeHistograms?: boolean | NativeHistogramOptions;
  },
  declaredBy: string,
): PromMetric {
  const kind = KINDS[type] as unknown as new (config: MetricConfiguration<string>) => PromMetric;
  if (!kind) throw new Error(`${declaredBy}: unknown metric type "${String(type)}"`);
  if (!config || typeof config.name !== 'string') throw new Error(`${declaredBy}: a metric needs a name`);
  if (typeof config.help !== 'string' || config.help === '') {
    throw new Error(`${declaredBy}: metric "${config.name}" needs a help text`);
  }
  const { nativeHistograms, ...promConfig } = config;
  const labelNames = [...(promConfig.labelNames ?? [])];
  const buckets = type === 'histogram' ? (promConfig.buckets ?? DEFAULT_BUCKETS) : undefined;
  if (nativeHistograms !== undefined && type !== 'histogram') {
    throw new Error(`${declaredBy}: nativeHistograms is an option of histograms only`);
  }
  // Checked before the registry is looked at: a bad value fails even when the name exists already.
  const native = resolveNativeHistograms(nativeHistograms, `${declaredBy}: nativeHistograms`);
  const def = { type, name: promConfig.name, help: promConfig.help, labelNames, buckets, declaredBy };
  if (native && buckets) {
    return findOrRegisterMetric(
      registry,
      { ...def, nativeHistograms: true },
      NativeHistogramMetric,
      () => new NativeHistogramMetric(promConfig.name, promConfig.help, labelNames, buckets, native),
    );
  }
  return findOrRegisterMetric(registry, def, kind, () => {
    try {
      return new kind({ ...promConfig, labelNames, registers: [] });
    } catch (error) {
      throw new Error(`${declaredBy}: metric "${promConfig.name}": ${(error as Error).message}`, { cause: error });
    }
  });
}
