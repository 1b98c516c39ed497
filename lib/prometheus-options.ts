import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import { register as globalRegistry, type Registry } from 'prom-client';
import type {
  DefaultMetricsOptions,
  HttpClientMetricsOptions,
  HttpMetricsOptions,
  HttpMetricSwitch,
  HttpRequestInfo,
  PrometheusModuleOptions,
  PushgatewayOptions,
  TransportMetricsOptions,
} from './interfaces/index.js';
import { DEFAULT_CLUSTER_TIMEOUT_MS } from './cluster/cluster.constants.js';
import { DEFAULT_MAX_CONCURRENT_SCRAPES } from './endpoint/shared-scrapes.js';
import { assertBuckets, assertLabelName, assertMetricName } from './metrics/metric-names.js';
import {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_MAX_LABEL_VALUE_LENGTH,
  DEFAULT_MAX_SERIES_PER_METRIC,
  DEFAULT_METRICS_HOST,
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
  /** The exemplar labels of a request; `false` when exemplars are off. */
  exemplars: false | ((request: IncomingMessage) => Record<string, string> | undefined);
  observe: readonly ((info: HttpRequestInfo) => void)[];
  /** Extra labels: names and the functions that give their values. */
  labels?: { names: readonly string[]; values: readonly ((request: IncomingMessage) => string | number)[] };
  /** The name of each default metric, or `false` when it is off. */
  metrics: Record<HttpMetricKey, string | false>;
  latency: 'histogram' | 'summary';
  summary: { percentiles: number[]; maxAgeSeconds: number; ageBuckets: number };
}

export type HttpMetricKey = 'requests' | 'duration' | 'inProgress' | 'exceptions' | 'requestSize' | 'responseSize';

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

export interface ResolvedTransportOptions {
  prefix: string;
  buckets: readonly number[];
  exclude: readonly (string | RegExp)[];
}

export interface ResolvedHttpClientOptions {
  prefix: string;
  hosts?: readonly (string | RegExp)[];
  buckets: readonly number[];
}

export interface ResolvedServerOptions {
  port: number;
  host: string;
  path: string;
}

export type ResolvedPushgatewayOptions = Required<
  Omit<PushgatewayOptions, 'headers' | 'jobName' | 'options' | 'registry'>
> &
  Pick<PushgatewayOptions, 'headers' | 'jobName' | 'registry'>;

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
  /** The metrics server of its own (`port`), if any. */
  server?: ResolvedServerOptions;
  /** Most distinct renderings in progress at once (`Infinity` when off). */
  maxConcurrentScrapes: number;
  pushgateway?: ResolvedPushgatewayOptions;
  cluster: false | { timeoutMs: number };
  httpClient: ResolvedHttpClientOptions | false;
  rpc: ResolvedTransportOptions | false;
  ws: ResolvedTransportOptions | false;
  graphql: ResolvedTransportOptions | false;
  enabled: boolean;
  /** Prefix (without the `_`) of `make*Provider()` and `forFeature()` metric names, if any. */
  customMetricPrefix?: string;
}

const WHERE = 'PrometheusModule options';

/** Every option `forRoot()` reads, and those only `register()` or the module definition read. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set<keyof PrometheusModuleOptions | 'global' | 'controller'>([
  'path',
  'registry',
  'defaultLabels',
  'defaultMetrics',
  'http',
  'info',
  'maxSeriesPerMetric',
  'maxLabelValueLength',
  'port',
  'host',
  'pushgateway',
  'cluster',
  'httpClient',
  'rpc',
  'ws',
  'graphql',
  'customMetricPrefix',
  'enabled',
]);

const logger = new Logger('PrometheusModule');

/**
 * Unknown keys are warned about, not rejected: options written for `@willsoto/nestjs-prometheus`
 * or a later version may carry keys this one does not know, and must still boot.
 */
function warnUnknownKeys(
  options: object,
  known: ReadonlySet<string>,
  where: string,
  hints: Record<string, string> = {},
): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      logger.warn(`${where}: unknown option "${key}" is ignored${hints[key] ? ` (${hints[key]})` : ''}`);
  }
}

/** The one place where defaults are merged and options are checked, so bad input fails at bootstrap. */
export function resolvePrometheusOptions(options: PrometheusModuleOptions = {}): ResolvedPrometheusOptions {
  if (typeof options !== 'object' || options === null) throw new Error(`${WHERE} must be an object`);
  warnUnknownKeys(options, KNOWN_OPTIONS, WHERE, {
    global: 'give it to register()/registerAsync() (or isGlobal to forRoot()/forRootAsync()), not from a factory',
    controller: 'give it to register()/registerAsync(), not from a factory',
    isGlobal: 'give it to forRoot()/forRootAsync(), not from a factory',
  });
  const customMetricPrefix = options.customMetricPrefix;
  if (customMetricPrefix !== undefined && customMetricPrefix !== '') {
    if (typeof customMetricPrefix !== 'string') throw new Error(`${WHERE}.customMetricPrefix must be a string`);
    assertMetricName(`${customMetricPrefix}_x`, `${WHERE}.customMetricPrefix`);
  }
  const server = resolveServer(options);
  // With a port of its own, the app's port serves the metrics too only if a path is given.
  const appPath = server && options.path === undefined ? false : options.path;
  const path = appPath === false ? false : normalizePath(appPath ?? DEFAULT_METRICS_PATH);
  const defaultLabels = { ...(options.defaultLabels ?? {}) };
  for (const [name, value] of Object.entries(defaultLabels)) {
    assertLabelName(name, `${WHERE}.defaultLabels`);
    // An unset environment variable would otherwise label every series "undefined".
    if (
      value === undefined ||
      value === null ||
      value === '' ||
      (typeof value === 'number' && !Number.isFinite(value))
    ) {
      throw new Error(
        `${WHERE}.defaultLabels.${name}: the value is ${value === '' ? 'empty' : String(value)}; give it a non-empty string (is an environment variable unset?)`,
      );
    }
  }

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
      exemplars: resolveExemplars(o.exemplars),
      observe: resolveObservers(o.observe),
      labels: resolveExtraLabels(o.labels),
      metrics: resolveHttpMetricNames(o, prefix),
      latency: resolveLatency(o.latency),
      summary: resolveSummary(o.summary),
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
    server,
    maxConcurrentScrapes: resolveMaxConcurrentScrapes(options.maxConcurrentScrapes),
    pushgateway: options.pushgateway === undefined ? undefined : resolvePushgateway(options.pushgateway),
    cluster: resolveCluster(options.cluster),
    httpClient: resolveHttpClient(options.httpClient),
    rpc: resolveTransport(options.rpc, 'rpc'),
    ws: resolveTransport(options.ws, 'ws'),
    graphql: resolveTransport(options.graphql, 'graphql'),
    enabled: true,
    customMetricPrefix: customMetricPrefix || undefined,
  };
}

function resolveTransport(
  o: false | TransportMetricsOptions | undefined,
  name: string,
): ResolvedTransportOptions | false {
  if (o === false) return false;
  const where = `${WHERE}.${name}`;
  if (o !== undefined && (typeof o !== 'object' || o === null)) throw new Error(`${where} must be false or an object`);
  const prefix = o?.prefix ?? '';
  if (prefix) assertMetricName(`${prefix}${name}_requests_total`, `${where}.prefix`);
  const buckets = o?.buckets ?? DEFAULT_DURATION_BUCKETS;
  assertBuckets(buckets, `${where}.buckets`);
  for (const e of o?.exclude ?? []) {
    if (typeof e !== 'string' && !(e instanceof RegExp))
      throw new Error(`${where}.exclude: ${String(e)} is neither a string nor a RegExp`);
  }
  return { prefix, buckets: [...buckets], exclude: [...(o?.exclude ?? [])] };
}

/** `enabled: false`: checked like any options, then everything is off. */
export function resolveEnabledOptions(options: PrometheusModuleOptions = {}): ResolvedPrometheusOptions {
  const resolved = resolvePrometheusOptions(options);
  if (options.enabled === undefined || options.enabled === true) return resolved;
  if (options.enabled !== false) throw new Error(`${WHERE}.enabled must be a boolean`);
  return {
    ...resolved,
    enabled: false,
    path: false,
    // Nothing written to the registry either: no overflow counter, no default labels.
    maxSeriesPerMetric: Infinity,
    defaultLabels: {},
    http: false,
    defaultMetrics: { enabled: false },
    info: undefined,
    server: undefined,
    pushgateway: undefined,
    cluster: false,
    httpClient: false,
    rpc: false,
    ws: false,
    graphql: false,
  };
}

function resolveObservers(observe: HttpMetricsOptions['observe']): ResolvedHttpOptions['observe'] {
  if (observe === undefined) return [];
  const list = Array.isArray(observe) ? observe : [observe];
  for (const fn of list) {
    if (typeof fn !== 'function') throw new Error(`${WHERE}.http.observe must be an array of functions`);
  }
  return [...list];
}

function resolveExtraLabels(labels: HttpMetricsOptions['labels']): ResolvedHttpOptions['labels'] {
  if (labels === undefined) return undefined;
  const names = Object.keys(labels);
  if (names.length === 0) return undefined;
  for (const name of names) {
    assertLabelName(name, `${WHERE}.http.labels`);
    if (RESERVED_HTTP_LABELS.includes(name)) {
      throw new Error(`${WHERE}.http.labels: "${name}" is a label of the default HTTP metrics already`);
    }
    if (typeof labels[name] !== 'function')
      throw new Error(`${WHERE}.http.labels.${name} must be a function of the request`);
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
      assertMetricName(choice.name, `${WHERE}.http.metrics.${key}.name`);
      names[key] = choice.name;
    } else {
      throw new Error(`${WHERE}.http.metrics.${key} must be true, false or { name }`);
    }
  }
  return names;
}

function resolveLatency(latency: HttpMetricsOptions['latency']): ResolvedHttpOptions['latency'] {
  if (latency === undefined) return 'histogram';
  if (latency !== 'histogram' && latency !== 'summary') {
    throw new Error(`${WHERE}.http.latency must be 'histogram' or 'summary', not "${String(latency)}"`);
  }
  return latency;
}

function resolveSummary(summary: HttpMetricsOptions['summary']): ResolvedHttpOptions['summary'] {
  const percentiles = summary?.percentiles ?? [0.5, 0.9, 0.99];
  if (!Array.isArray(percentiles) || percentiles.length === 0 || percentiles.some(p => !(p > 0 && p < 1))) {
    throw new Error(`${WHERE}.http.summary.percentiles must be numbers between 0 and 1 (exclusive)`);
  }
  const maxAgeSeconds = summary?.maxAgeSeconds ?? 600;
  const ageBuckets = summary?.ageBuckets ?? 5;
  if (!(maxAgeSeconds > 0)) throw new Error(`${WHERE}.http.summary.maxAgeSeconds must be a number > 0`);
  if (!Number.isInteger(ageBuckets) || ageBuckets < 1)
    throw new Error(`${WHERE}.http.summary.ageBuckets must be a whole number >= 1`);
  return { percentiles: [...percentiles], maxAgeSeconds, ageBuckets };
}

function resolveHttpClient(o: HttpClientMetricsOptions | undefined): ResolvedHttpClientOptions | false {
  if (o === undefined || o.enabled !== true) return false;
  const prefix = o.prefix ?? '';
  if (prefix) assertMetricName(`${prefix}http_client_requests_total`, `${WHERE}.httpClient.prefix`);
  const buckets = o.buckets ?? DEFAULT_DURATION_BUCKETS;
  assertBuckets(buckets, `${WHERE}.httpClient.buckets`);
  for (const h of o.hosts ?? []) {
    if (typeof h !== 'string' && !(h instanceof RegExp)) {
      throw new Error(`${WHERE}.httpClient.hosts: ${String(h)} is neither a string nor a RegExp`);
    }
  }
  return { prefix, hosts: o.hosts ? [...o.hosts] : undefined, buckets: [...buckets] };
}

function resolveServer(options: PrometheusModuleOptions): ResolvedServerOptions | undefined {
  if (options.port === undefined) {
    if (options.host !== undefined) throw new Error(`${WHERE}.host needs a port (the metrics server's)`);
    return undefined;
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error(`${WHERE}.port must be a whole number from 0 to 65535, not ${JSON.stringify(options.port)}`);
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new Error(`${WHERE}.host must be a non-empty string`);
  }
  const path =
    options.path === undefined || options.path === false ? DEFAULT_METRICS_PATH : normalizePath(options.path);
  // Loopback unless told otherwise: the metrics server has no guards, so exposing it is a choice.
  return { port: options.port, host: options.host ?? DEFAULT_METRICS_HOST, path };
}

function resolveMaxConcurrentScrapes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CONCURRENT_SCRAPES;
  if (typeof value !== 'number' || !(value >= 1) || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new Error(
      `${WHERE}.maxConcurrentScrapes must be a whole number >= 1 (or Infinity: no limit), not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const PUSHGATEWAY_REQUEST_OPTIONS: ReadonlySet<string> = new Set(['headers', 'timeout', 'auth']);

function resolvePushgateway(o: PushgatewayOptions): ResolvedPushgatewayOptions {
  const where = `${WHERE}.pushgateway`;
  if (typeof o !== 'object' || o === null) throw new Error(`${where} must be an object`);
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new Error(`${where}.url must be an http(s) URL, not ${JSON.stringify(o.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${where}.url must be an http(s) URL, not ${JSON.stringify(o.url)}`);
  }
  if (o.jobName !== undefined && (typeof o.jobName !== 'string' || o.jobName === '')) {
    throw new Error(`${where}.jobName must be a non-empty string`);
  }
  for (const name of Object.keys(o.groupings ?? {})) assertLabelName(name, `${where}.groupings`);
  const intervalMs = o.intervalMs ?? 0;
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new Error(`${where}.intervalMs must be a number >= 0`);
  // `@willsoto/nestjs-prometheus` style: { url, options, registry }.
  const request = o.options ?? {};
  if (typeof request !== 'object' || request === null) throw new Error(`${where}.options must be an object`);
  warnUnknownKeys(request, PUSHGATEWAY_REQUEST_OPTIONS, `${where}.options`);
  const timeoutMs = o.timeoutMs ?? request.timeout ?? 5000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`${where}.timeoutMs must be a number > 0`);
  }
  if (request.auth !== undefined && typeof request.auth !== 'string') {
    throw new Error(`${where}.options.auth must be a string 'user:password'`);
  }
  const headers: Record<string, string> = { ...(request.headers ?? {}), ...(o.headers ?? {}) };
  if (request.auth) headers.Authorization = `Basic ${Buffer.from(request.auth).toString('base64')}`;
  // Automatic pushes need a job to push to; without one (willsoto's form), pushes are the app's calls.
  if (o.jobName === undefined && intervalMs > 0) throw new Error(`${where}.intervalMs needs pushgateway.jobName`);
  if (o.jobName === undefined && o.pushOnShutdown === true) {
    throw new Error(`${where}.pushOnShutdown needs pushgateway.jobName`);
  }
  if (o.registry !== undefined && typeof (o.registry as Registry | null)?.metrics !== 'function') {
    throw new Error(`${where}.registry must be a prom-client Registry`);
  }
  return {
    url: o.url,
    jobName: o.jobName,
    groupings: { ...(o.groupings ?? {}) },
    intervalMs,
    pushOnShutdown: o.pushOnShutdown ?? o.jobName !== undefined,
    timeoutMs,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
    registry: o.registry,
  };
}

function resolveCluster(cluster: PrometheusModuleOptions['cluster']): ResolvedPrometheusOptions['cluster'] {
  if (cluster === undefined || cluster === false) return false;
  const timeoutMs = (cluster === true ? undefined : cluster.timeoutMs) ?? DEFAULT_CLUSTER_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`${WHERE}.cluster.timeoutMs must be a number > 0`);
  return { timeoutMs };
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
  if (typeof exemplars !== 'function') throw new Error(`${WHERE}.http.exemplars must be a boolean or a function`);
  return exemplars;
}

/** A positive whole number, or `0`/`Infinity` for no limit. */
function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < 0 ||
    (Number.isFinite(value) && !Number.isInteger(value))
  ) {
    throw new Error(
      `${WHERE}.${name} must be a whole number >= 0 (0 or Infinity: no limit), not ${JSON.stringify(value)}`,
    );
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
