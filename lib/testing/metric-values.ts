import type { INestApplicationContext } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { isInProgressGauge } from '../core/in-progress-gauges.js';
import { PrometheusService } from '../runtime/prometheus.service.js';

type Labels = Record<string, string | number>;
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type MetricJson = MetricsJson[number];
type ValueJson = MetricJson['values'][number] & { metricName?: string };

/**
 * An app (or application context) that imports `PrometheusModule`, or a prom-client registry.
 *
 * @example
 * ```ts
 * const source: MetricsSource = app; // or new Registry()
 * ```
 * @public
 */
export type MetricsSource = INestApplicationContext | Registry;

/**
 * What `getHistogram` returns.
 *
 * @example
 * ```ts
 * const latency: HistogramValue = await getHistogram(app, 'http_request_duration_seconds');
 * expect(latency.buckets['+Inf']).toBe(latency.count);
 * ```
 * @public
 */
export interface HistogramValue {
  /** Observations, summed over the matching series. */
  count: number;
  sum: number;
  /** Cumulative count per upper bound (`le`), `'+Inf'` included. */
  buckets: Record<string, number>;
}

function registryOf(source: MetricsSource): Registry {
  if (typeof (source as Registry).getMetricsAsJSON === 'function') return source as Registry;
  return (source as INestApplicationContext).get(PrometheusService, { strict: false }).registry;
}

function matches(value: ValueJson, labels: Labels): boolean {
  for (const [name, wanted] of Object.entries(labels)) {
    if (String(value.labels[name]) !== String(wanted)) return false;
  }
  return true;
}

async function find(source: MetricsSource, name: string): Promise<{ metric: MetricJson; sample: string } | undefined> {
  const metrics = await registryOf(source).getMetricsAsJSON();
  const exact = metrics.find(m => m.name === name);
  if (exact) return { metric: exact, sample: name };
  // `x_count`, `x_sum`, `x_bucket` of a histogram or summary `x`.
  const base = metrics.find(
    m => name.startsWith(`${m.name}_`) && ['_count', '_sum', '_bucket'].includes(name.slice(m.name.length)),
  );
  return base ? { metric: base, sample: name } : undefined;
}

/**
 * The value of a counter or gauge, summed over the series whose labels include `labels` (all
 * series when none are given); 0 when none matches. `x_count` and `x_sum` of a histogram or
 * summary work too.
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, 'http_requests_total', { route: '/orders', status_code: '201' })).toBe(1);
 * ```
 * @public
 */
export async function getMetricValue(source: MetricsSource, name: string, labels: Labels = {}): Promise<number> {
  const found = await find(source, name);
  if (!found) throw new Error(`getMetricValue: no metric "${name}" in the registry`);
  const { metric, sample } = found;
  const type = String(metric.type);
  const compound = type === 'histogram' || type === 'summary';
  if (compound && sample === metric.name) {
    throw new Error(
      `getMetricValue: "${name}" is a ${type}: use getHistogram(), or ask for ${name}_count or ${name}_sum`,
    );
  }
  let total = 0;
  for (const value of metric.values as ValueJson[]) {
    if ((compound ? value.metricName === sample : true) && matches(value, labels)) total += value.value;
  }
  return total;
}

/**
 * A histogram's count, sum and cumulative buckets, summed over the series whose labels include `labels`.
 *
 * @example
 * ```ts
 * const latency = await getHistogram(app, 'http_request_duration_seconds', { route: '/orders' });
 * expect(latency.count).toBe(1);
 * ```
 * @public
 */
export async function getHistogram(source: MetricsSource, name: string, labels: Labels = {}): Promise<HistogramValue> {
  const found = await find(source, name);
  if (!found || found.metric.name !== name) throw new Error(`getHistogram: no metric "${name}" in the registry`);
  if (String(found.metric.type) !== 'histogram')
    throw new Error(`getHistogram: "${name}" is a ${found.metric.type}, not a histogram`);
  const result: HistogramValue = { count: 0, sum: 0, buckets: {} };
  for (const value of found.metric.values as ValueJson[]) {
    if (!matches(value, labels)) continue;
    if (value.metricName === `${name}_count`) result.count += value.value;
    else if (value.metricName === `${name}_sum`) result.sum += value.value;
    else if (value.metricName === `${name}_bucket`) {
      const le = String(value.labels.le);
      result.buckets[le] = (result.buckets[le] ?? 0) + value.value;
    }
  }
  return result;
}

/**
 * Zeroes every metric of the registry, but gauges of work in flight (`http_requests_in_progress`,
 * `@Gauge`): they keep counting the calls still running.
 *
 * @example
 * ```ts
 * afterEach(() => resetMetrics(app));
 * ```
 * @public
 */
// eslint-disable-next-line @typescript-eslint/require-await -- part of a Promise-returning contract: a throw must become a rejection
export async function resetMetrics(source: MetricsSource): Promise<void> {
  for (const metric of registryOf(source).getMetricsAsArray()) {
    if (!isInProgressGauge(metric)) (metric as unknown as { reset(): void }).reset();
  }
}
