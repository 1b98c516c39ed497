// prom-client behaviours beyond its typed API that the module relies on. Each function says what
// it relies on, since which versions, and which test fails when it changes (prom-client 15 is the
// only runtime dependency; `^15.1.3`).
import type { Registry, RegistryContentType } from 'prom-client';

/**
 * Registers an object that is not one of prom-client's metric classes: the module's own series
 * metrics (lib/core/) and the snapshots the cluster primary renders.
 *
 * Relies on: `Registry.registerMetric()` storing any object with a `name`, and
 * `registry.metrics()` / `getMetricsAsJSON()` formatting what its `get()` resolves to
 * (`{ name, help, type, aggregator, values: [{ labels, value, metricName?, exemplar? }] }`),
 * prom-client 11 to 15. Breaks: test/http-metrics (every default HTTP metric),
 * test/metrics-endpoint, test/cardinality.
 */
export function registerCollectableMetric(registry: Registry<RegistryContentType>, metric: object): void {
  registry.registerMetric(metric as never);
}

/** The fields of a registered metric that explain a conflicting definition. */
export interface RegisteredMetricShape {
  readonly name: string;
  readonly type?: string;
  readonly labelNames?: readonly string[];
}

/**
 * The registered metric of that name, with its type and label names.
 *
 * Relies on: prom-client's metric objects keeping `type` and `labelNames` as properties (not in
 * its typings; prom-client 13 to 15). Only the text of the "already registered" error depends on
 * them. Breaks: test/inject-metric, test/decorators (the conflict messages).
 */
export function registeredMetric(
  registry: Registry<RegistryContentType>,
  name: string,
): RegisteredMetricShape | undefined {
  return registry.getSingleMetric(name) as unknown as RegisteredMetricShape | undefined;
}

/**
 * Calls `onList(metric)` for each metric a registry hands out to be collected, before it is
 * collected: the place where the collect guard wraps each metric once.
 *
 * Relies on: `registry.metrics()`, `getMetricsAsJSON()` and `getMetricsAsArray()` of prom-client
 * 15 listing the metrics through `this.getMetricsAsArray()`, so an own property of that name on
 * the registry instance sees every scrape, push and cluster collection. Breaks:
 * test/collect-errors (a throwing collect fails the whole scrape again).
 */
export function onMetricsListed(registry: Registry<RegistryContentType>, onList: (metric: object) => void): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call() on its own object
  const list = registry.getMetricsAsArray;
  // An own property over prom-client's method: the registry (often the global one) otherwise works unchanged.
  registry.getMetricsAsArray = function listMetrics(this: Registry<RegistryContentType>) {
    const metrics = list.call(this);
    for (const metric of metrics) onList(metric);
    return metrics;
  };
}

/**
 * The names of the methods prom-client calls to collect a metric's values: `get()` for every
 * metric and every format, and, on prom-client 15's histograms, `getForPromString()` for the text
 * format (undocumented; it skips building the exemplar fields).
 *
 * Relies on: prom-client 15.1 `Registry.getMetricsAsString` calling `getForPromString` when a
 * metric has it. Breaks: test/collect-errors (a failing histogram collect in a text scrape).
 */
export const COLLECTING_METHODS = ['get', 'getForPromString'] as const;

/**
 * The labels `registry.setDefaultLabels()` added to every sample, or `undefined` when none: the
 * module's renderer (lib/core/exposition) writes them as prom-client's `metrics()` does.
 *
 * Relies on: prom-client 15's `Registry` keeping them in its `_defaultLabels` property (there is a
 * setter and no getter; prom-client 11 to 15). Breaks: lib/core/exposition/render-exposition.spec.ts
 * ("default labels") and test/module-options (`defaultLabels` missing from the scrape).
 *
 * @example
 * registry.setDefaultLabels({ app: 'shop' });
 * registryDefaultLabels(registry); // { app: 'shop' }
 */
export function registryDefaultLabels(
  registry: Registry<RegistryContentType>,
): Readonly<Record<string, unknown>> | undefined {
  const labels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels;
  return labels !== undefined && labels !== null && Object.keys(labels).length > 0 ? labels : undefined;
}
