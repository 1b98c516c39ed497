import { register as globalRegistry, type Registry } from 'prom-client';
import type { DefaultMetricsOptions, PrometheusModuleOptions } from './interfaces/index.js';
import { assertBuckets, assertLabelName, assertMetricName } from './metrics/metric-names.js';
import {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_MAX_LABEL_VALUE_LENGTH,
  DEFAULT_MAX_SERIES_PER_METRIC,
  DEFAULT_METRICS_PATH,
  DEFAULT_SIZE_BUCKETS,
} from './prometheus.constants.js';

export interface ResolvedHttpOptions {
  prefix: string;
  buckets: readonly number[];
  sizeBuckets: readonly number[];
  excludePaths: readonly (string | RegExp)[];
  excludeMethods: ReadonlySet<string>;
  groupStatusCodes: boolean;
  unmatchedRoutes: 'group' | 'ignore';
  requestSizes: boolean;
}

export interface ResolvedPrometheusOptions {
  path: string | false;
  registry: Registry;
  defaultLabels: Record<string, string | number>;
  defaultMetrics: Required<Pick<DefaultMetricsOptions, 'enabled'>> & Pick<DefaultMetricsOptions, 'config'>;
  http: ResolvedHttpOptions | false;
  info?: Record<string, string>;
  /** `Infinity` when off. */
  maxSeriesPerMetric: number;
  /** `Infinity` when off. */
  maxLabelValueLength: number;
}

const WHERE = 'PrometheusModule options';

/** The one place where defaults are merged and options are checked, so bad input fails at bootstrap. */
export function resolvePrometheusOptions(options: PrometheusModuleOptions = {}): ResolvedPrometheusOptions {
  const path = options.path === false ? false : normalizePath(options.path ?? DEFAULT_METRICS_PATH);
  const defaultLabels = { ...(options.defaultLabels ?? {}) };
  for (const name of Object.keys(defaultLabels)) assertLabelName(name, `${WHERE}.defaultLabels`);

  let http: ResolvedHttpOptions | false = false;
  if (options.http !== false) {
    const o = options.http ?? {};
    const prefix = o.prefix ?? '';
    if (prefix) assertMetricName(`${prefix}http_requests_total`, `${WHERE}.http.prefix`);
    const buckets = o.buckets ?? DEFAULT_DURATION_BUCKETS;
    assertBuckets(buckets, `${WHERE}.http.buckets`);
    const sizeBuckets = o.sizeBuckets ?? DEFAULT_SIZE_BUCKETS;
    assertBuckets(sizeBuckets, `${WHERE}.http.sizeBuckets`);
    const unmatchedRoutes = o.unmatchedRoutes ?? 'group';
    if (unmatchedRoutes !== 'group' && unmatchedRoutes !== 'ignore') {
      throw new Error(`${WHERE}.http.unmatchedRoutes must be 'group' or 'ignore', not "${String(unmatchedRoutes)}"`);
    }
    for (const p of o.excludePaths ?? []) {
      if (typeof p !== 'string' && !(p instanceof RegExp)) {
        throw new Error(`${WHERE}.http.excludePaths: ${String(p)} is neither a string nor a RegExp`);
      }
    }
    http = {
      prefix,
      buckets: [...buckets],
      sizeBuckets: [...sizeBuckets],
      excludePaths: [...(o.excludePaths ?? [])],
      excludeMethods: new Set((o.excludeMethods ?? []).map(m => m.toUpperCase())),
      groupStatusCodes: o.groupStatusCodes ?? false,
      unmatchedRoutes,
      requestSizes: o.requestSizes ?? true,
    };
  }

  if (options.info) for (const name of Object.keys(options.info)) assertLabelName(name, `${WHERE}.info`);

  return {
    info: options.info ? { ...options.info } : undefined,
    path,
    registry: options.registry ?? globalRegistry,
    defaultLabels,
    defaultMetrics: { enabled: options.defaultMetrics?.enabled ?? true, config: options.defaultMetrics?.config },
    http,
    maxSeriesPerMetric: limit(options.maxSeriesPerMetric, DEFAULT_MAX_SERIES_PER_METRIC, 'maxSeriesPerMetric'),
    maxLabelValueLength: limit(options.maxLabelValueLength, DEFAULT_MAX_LABEL_VALUE_LENGTH, 'maxLabelValueLength'),
  };
}

/** A positive whole number, or `0`/`Infinity` for no limit. */
function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new Error(`${WHERE}.${name} must be a whole number >= 0 (0 or Infinity: no limit), not ${JSON.stringify(value)}`);
  }
  return value === 0 ? Infinity : value;
}

function normalizePath(path: string): string {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new Error(`${WHERE}.path must be a non-empty string or false`);
  }
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, '') : withSlash;
}
