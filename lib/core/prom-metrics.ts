import { Counter, Gauge, Histogram, type MetricConfiguration, type Registry, Summary } from 'prom-client';
import { findOrRegisterMetric } from './metric-registrar.js';
import type { MetricKind } from './samples.js';

export type PromMetric = Counter | Gauge | Histogram | Summary;

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
  },
  declaredBy: string,
): PromMetric {
  const kind = KINDS[type] as unknown as new (config: MetricConfiguration<string>) => PromMetric;
  if (!kind) throw new Error(`${declaredBy}: unknown metric type "${String(type)}"`);
  if (!config || typeof config.name !== 'string') throw new Error(`${declaredBy}: a metric needs a name`);
  if (typeof config.help !== 'string' || config.help === '') {
    throw new Error(`${declaredBy}: metric "${config.name}" needs a help text`);
  }
  const labelNames = [...(config.labelNames ?? [])];
  return findOrRegisterMetric(
    registry,
    {
      type,
      name: config.name,
      help: config.help,
      labelNames,
      buckets: type === 'histogram' ? (config.buckets ?? DEFAULT_BUCKETS) : undefined,
      declaredBy,
    },
    kind,
    () => {
      try {
        return new kind({ ...config, labelNames, registers: [] });
      } catch (error) {
        throw new Error(`${declaredBy}: metric "${config.name}": ${(error as Error).message}`, { cause: error });
      }
    },
  );
}
