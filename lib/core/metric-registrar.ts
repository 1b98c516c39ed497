import type { Registry } from 'prom-client';
import { annotation } from './annotation.js';
import { registerCollectableMetric, registeredMetric } from '../compat/prom-client.js';
import { assertBuckets, assertLabelName, assertMetricName } from './metric-names.js';
import type { MetricKind } from './samples.js';

export interface MetricDefinition {
  type: MetricKind;
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
  /** A histogram with native buckets (`nativeHistograms`), told apart in a conflict's message. */
  nativeHistograms?: boolean;
  /** Who declares the metric, for error messages, e.g. `PrometheusModule (http)`. */
  declaredBy: string;
}

// The definition each metric was created from, to explain a conflicting second definition.
const definitions = annotation<MetricDefinition>('metric-definition');

function describe(
  def: Pick<MetricDefinition, 'type' | 'name' | 'labelNames' | 'buckets' | 'nativeHistograms' | 'declaredBy'>,
): string {
  const buckets = def.buckets ? ` buckets [${def.buckets.join(', ')}]` : '';
  const native = def.nativeHistograms ? ' with native histograms' : '';
  return `${def.type} ${def.name}{${def.labelNames.join(',')}}${buckets}${native} (declared by ${def.declaredBy})`;
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((l, i) => l === sorted[i]);
}

function sameBuckets(a?: readonly number[], b?: readonly number[]): boolean {
  if (!a || !b) return true;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Returns the metric of that name from the registry, or registers the one `create` makes.
 * Initialising a module twice (two apps in one process, hot reload) reuses the first metric;
 * a second definition with another type, label set or buckets is a bootstrap error.
 */
export function findOrRegisterMetric<M extends object>(
  registry: Registry,
  def: MetricDefinition,
  kind: abstract new (...args: never[]) => M,
  create: () => M,
): M {
  assertMetricName(def.name, def.declaredBy);
  for (const label of def.labelNames) assertLabelName(label, `${def.declaredBy}, metric "${def.name}"`);
  if (new Set(def.labelNames).size !== def.labelNames.length) {
    throw new Error(`${def.declaredBy}: metric "${def.name}" repeats a label name (${def.labelNames.join(', ')})`);
  }
  if (def.buckets) assertBuckets(def.buckets, `${def.declaredBy}, metric "${def.name}"`);

  const existing = registeredMetric(registry, def.name);
  if (!existing) {
    const metric = create();
    registerCollectableMetric(registry, metric);
    definitions.set(metric, def);
    return metric;
  }
  const previous: Pick<
    MetricDefinition,
    'type' | 'name' | 'labelNames' | 'buckets' | 'nativeHistograms' | 'declaredBy'
  > = definitions.get(existing) ?? {
    type: (existing.type ?? 'unknown') as MetricKind,
    name: existing.name,
    labelNames: existing.labelNames ?? [],
    declaredBy: 'another registration in this registry',
  };
  const compatible =
    previous.type === def.type &&
    sameLabels(previous.labelNames, def.labelNames) &&
    sameBuckets(previous.buckets, def.buckets) &&
    existing instanceof kind;
  if (!compatible) {
    throw new Error(
      `Metric "${def.name}" is already registered as ${describe(previous)}; ` +
        `it cannot also be registered as ${describe(def)}. Use one definition per metric name.`,
    );
  }
  return existing;
}
