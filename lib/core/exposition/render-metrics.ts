import { Registry, type RegistryContentType } from 'prom-client';
import { type CollectedValues, type ExpositionFormat, renderCollected, renderExposition } from './render-exposition.js';

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
 * The renderer's name of the format a content type stands for.
 *
 * @example
 * formatOf(negotiate(req.headers.accept)); // 'openmetrics' for Prometheus' Accept header
 */
export function formatOf(contentType: RegistryContentType): ExpositionFormat {
  return contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : 'text';
}

/**
 * Renders a registry in the format `accept` asks for, whatever format the registry was made for,
 * as prom-client's `registry.metrics()` would (lib/core/exposition), yielding to the event loop
 * every few milliseconds. Unlike prom-client's OpenMetrics rendering, it renames no counter.
 */
export async function renderRegistry(
  registry: Registry,
  accept: string | undefined,
  names?: readonly string[],
): Promise<RenderedMetrics> {
  const contentType = negotiate(accept);
  const slices: string[] = [];
  await renderExposition(registry, formatOf(contentType), names, slice => slices.push(slice));
  return { contentType, body: slices.join('') };
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
  const contentType = negotiate(accept);
  const slices: string[] = [];
  await renderCollected(metrics as unknown as CollectedValues[], formatOf(contentType), names, slice =>
    slices.push(slice),
  );
  return { contentType, body: slices.join('') };
}
