import type { IncomingMessage } from 'node:http';
import { assertBuckets, assertLabelName, assertMetricName } from '../core/metric-names.js';
import { DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS } from '../core/core.constants.js';
import { resolveNativeHistograms } from '../core/native-histogram-options.js';
import { patternList, prefixAndBuckets } from '../core/option-checks.js';
import type { HttpMetricsOptions, HttpMetricSwitch } from '../interfaces/index.js';
import type { HttpMetricKey, ResolvedHttpOptions } from '../interfaces/resolved-options.interface.js';

const WHERE = 'PrometheusModule options.http';

const HTTP_METRIC_NAMES: Record<HttpMetricKey, string> = {
  requests: 'http_requests_total',
  duration: 'http_request_duration_seconds',
  inProgress: 'http_requests_in_progress',
  exceptions: 'http_exceptions_total',
  requestSize: 'http_request_size_bytes',
  responseSize: 'http_response_size_bytes',
};

/** Labels the default HTTP metrics use themselves, or Prometheus reserves. */
const RESERVED_HTTP_LABELS = ['method', 'route', 'status_code', 'exception', 'le', 'quantile'];

/** Checks `options.http` and merges its defaults; `false` when the HTTP metrics are off. */
export function resolveHttpOptions(http: HttpMetricsOptions | false | undefined): ResolvedHttpOptions | false {
  if (http === false) return false;
  if (http !== undefined && (typeof http !== 'object' || http === null))
    throw new Error(`${WHERE} must be false or an object`);
  const o = http ?? {};
  const { prefix, buckets } = prefixAndBuckets(o, 'http_requests_total', DEFAULT_DURATION_BUCKETS, WHERE);
  const sizeBuckets = o.sizeBuckets ?? DEFAULT_SIZE_BUCKETS;
  assertBuckets(sizeBuckets, `${WHERE}.sizeBuckets`);
  const unmatchedRoutes = o.unmatchedRoutes ?? 'group';
  if (unmatchedRoutes !== 'group' && unmatchedRoutes !== 'ignore') {
    throw new Error(`${WHERE}.unmatchedRoutes must be 'group' or 'ignore', not "${String(unmatchedRoutes)}"`);
  }
  return {
    prefix,
    buckets,
    sizeBuckets: [...sizeBuckets],
    excludePaths: patternList(o.excludePaths, `${WHERE}.excludePaths`),
    excludeMethods: new Set((o.excludeMethods ?? []).map(m => m.toUpperCase())),
    groupStatusCodes: o.groupStatusCodes ?? false,
    unmatchedRoutes,
    requestSizes: o.requestSizes ?? true,
    exemplars: resolveExemplars(o.exemplars),
    observe: resolveObservers(o.observe),
    labels: resolveExtraLabels(o.labels),
    metrics: resolveHttpMetricNames(o, prefix),
    latency: resolveLatency(o.latency),
    summary: resolveSummary(o.summary),
    nativeHistograms: resolveNativeHistograms(o.nativeHistograms, `${WHERE}.nativeHistograms`),
  };
}

function resolveObservers(observe: HttpMetricsOptions['observe']): ResolvedHttpOptions['observe'] {
  if (observe === undefined) return [];
  const list = Array.isArray(observe) ? observe : [observe];
  for (const fn of list) {
    if (typeof fn !== 'function') throw new Error(`${WHERE}.observe must be an array of functions`);
  }
  return [...list];
}

function resolveExtraLabels(labels: HttpMetricsOptions['labels']): ResolvedHttpOptions['labels'] {
  if (labels === undefined) return undefined;
  const names = Object.keys(labels);
  if (names.length === 0) return undefined;
  for (const name of names) {
    assertLabelName(name, `${WHERE}.labels`);
    if (RESERVED_HTTP_LABELS.includes(name)) {
      throw new Error(`${WHERE}.labels: "${name}" is a label of the default HTTP metrics already`);
    }
    if (typeof labels[name] !== 'function')
      throw new Error(`${WHERE}.labels.${name} must be a function of the request`);
  }
  return { names, values: names.map(n => labels[n]) };
}

function resolveHttpMetricNames(o: HttpMetricsOptions, prefix: string): ResolvedHttpOptions['metrics'] {
  const switches: Partial<Record<HttpMetricKey, HttpMetricSwitch>> = o.metrics ?? {};
  const names = {} as Record<HttpMetricKey, string | false>;
  for (const key of Object.keys(HTTP_METRIC_NAMES) as HttpMetricKey[]) {
    const choice = switches[key] ?? true;
    if (choice === false || ((key === 'requestSize' || key === 'responseSize') && o.requestSizes === false)) {
      names[key] = false;
    } else if (choice === true) {
      names[key] = `${prefix}${HTTP_METRIC_NAMES[key]}`;
    } else if (typeof choice === 'object' && choice !== null && typeof choice.name === 'string') {
      assertMetricName(choice.name, `${WHERE}.metrics.${key}.name`);
      names[key] = choice.name;
    } else {
      throw new Error(`${WHERE}.metrics.${key} must be true, false or { name }`);
    }
  }
  return names;
}

function resolveLatency(latency: HttpMetricsOptions['latency']): ResolvedHttpOptions['latency'] {
  if (latency === undefined) return 'histogram';
  if (latency !== 'histogram' && latency !== 'summary') {
    throw new Error(`${WHERE}.latency must be 'histogram' or 'summary', not "${String(latency)}"`);
  }
  return latency;
}

function resolveSummary(summary: HttpMetricsOptions['summary']): ResolvedHttpOptions['summary'] {
  const percentiles = summary?.percentiles ?? [0.5, 0.9, 0.99];
  if (!Array.isArray(percentiles) || percentiles.length === 0 || percentiles.some(p => !(p > 0 && p < 1))) {
    throw new Error(`${WHERE}.summary.percentiles must be numbers between 0 and 1 (exclusive)`);
  }
  const maxAgeSeconds = summary?.maxAgeSeconds ?? 600;
  const ageBuckets = summary?.ageBuckets ?? 5;
  if (!(maxAgeSeconds > 0)) throw new Error(`${WHERE}.summary.maxAgeSeconds must be a number > 0`);
  if (!Number.isInteger(ageBuckets) || ageBuckets < 1)
    throw new Error(`${WHERE}.summary.ageBuckets must be a whole number >= 1`);
  return { percentiles: [...percentiles], maxAgeSeconds, ageBuckets };
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/;

/** `trace_id` from a W3C `traceparent` header (https://www.w3.org/TR/trace-context/). */
export function traceparentExemplar(request: IncomingMessage): Record<string, string> | undefined {
  const header = request.headers.traceparent;
  const match = typeof header === 'string' ? TRACEPARENT.exec(header) : null;
  if (!match || /^0+$/.test(match[1])) return undefined;
  return { trace_id: match[1] };
}

function resolveExemplars(
  exemplars: boolean | Exclude<ResolvedHttpOptions['exemplars'], false> | undefined,
): ResolvedHttpOptions['exemplars'] {
  if (exemplars === undefined || exemplars === false) return false;
  if (exemplars === true) return traceparentExemplar;
  if (typeof exemplars !== 'function') throw new Error(`${WHERE}.exemplars must be a boolean or a function`);
  return exemplars;
}
