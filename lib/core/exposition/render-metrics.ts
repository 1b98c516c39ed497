import { Registry, type RegistryContentType } from 'prom-client';
import { registerCollectableMetric } from '../../compat/prom-client.js';

/**
 * An exposition rendered for one scrape: its `Content-Type` and its text.
 *
 * @example
 * ```ts
 * const rendered: RenderedMetrics = { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' };
 * ```
 * @public
 */
export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/** Metrics as `Registry.getMetricsAsJSON()` returns them (and cluster workers send them). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The exposition format an `Accept` header asks for: OpenMetrics or Prometheus text. */
export function negotiate(accept: string | undefined): RegistryContentType {
  return accept?.includes('application/openmetrics-text')
    ? Registry.OPENMETRICS_CONTENT_TYPE
    : Registry.PROMETHEUS_CONTENT_TYPE;
}

/**
 * Renders a registry in the format `accept` asks for. prom-client renames counters for good while
 * rendering OpenMetrics (`metric.name` loses `_total`) and fixes a registry's format at
 * construction: OpenMetrics, and any format the registry was not made for, are rendered from a
 * snapshot in a registry of that format.
 */
export async function renderRegistry(
  registry: Registry,
  accept: string | undefined,
  names?: readonly string[],
): Promise<RenderedMetrics> {
  const wanted = negotiate(accept);
  if (names === undefined && wanted === Registry.PROMETHEUS_CONTENT_TYPE && registry.contentType === wanted) {
    return { contentType: wanted, body: await registry.metrics() };
  }
  return renderJson(await registry.getMetricsAsJSON(), accept, names);
}

/** The metric names a scrape asks for (`?name[]=a&name[]=b`, as client_golang takes them), if any. */
export function requestedNames(url: string | undefined): string[] | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q === -1) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const names = [...params.getAll('name[]'), ...params.getAll('name')];
  return names.length > 0 ? names : undefined;
}

/** Renders metrics already collected (a snapshot, or the aggregate of cluster workers). */
export async function renderJson(
  metrics: MetricsJson,
  accept: string | undefined,
  names?: readonly string[],
): Promise<RenderedMetrics> {
  const wanted = negotiate(accept);
  const view = new (Registry as new (type: RegistryContentType) => Registry<RegistryContentType>)(wanted);
  const only = names === undefined ? undefined : new Set(names);
  for (const metric of metrics) {
    if (only === undefined || only.has(metric.name)) registerCollectableMetric(view, snapshot(metric));
  }
  return { contentType: wanted, body: await view.metrics() };
}

function snapshot(metric: MetricsJson[number]) {
  return {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    // eslint-disable-next-line @typescript-eslint/require-await -- part of a Promise-returning contract: a throw must become a rejection
    async get(this: { name: string }) {
      return { ...metric, name: this.name };
    },
  };
}
