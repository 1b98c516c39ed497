import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import type {
  DefaultMetricsOptions,
  HttpRequestInfo,
  PushgatewayOptions,
} from './prometheus-module-options.interface.js';

// The options as the module's parts read them: checked, defaults merged (by each feature's
// resolver, composed in lib/prometheus-options.ts). Internal: not exported from the package.

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
  /** The native histogram of the duration, or `false`. */
  nativeHistograms: ResolvedNativeHistograms | false;
}

export type HttpMetricKey = 'requests' | 'duration' | 'inProgress' | 'exceptions' | 'requestSize' | 'responseSize';

export interface ResolvedTransportOptions {
  prefix: string;
  buckets: readonly number[];
  /** The native histogram of the duration, or `false`. */
  nativeHistograms: ResolvedNativeHistograms | false;
  exclude: readonly (string | RegExp)[];
}

export interface ResolvedHttpClientOptions {
  prefix: string;
  hosts?: readonly (string | RegExp)[];
  buckets: readonly number[];
  /** The native histogram of the duration, or `false`. */
  nativeHistograms: ResolvedNativeHistograms | false;
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
  /** The status page (`statusPage`), or `false` when off (the default). */
  statusPage: ResolvedStatusPageOptions | false;
}

/**
 * The status page's options with defaults merged; `path` is absolute (the global prefix comes on top).
 *
 * @example
 * ```ts
 * const page: ResolvedStatusPageOptions = { path: '/metrics/status', refreshSeconds: 5, historyMinutes: 15 };
 * ```
 */
export interface ResolvedStatusPageOptions {
  path: string;
  refreshSeconds: number;
  historyMinutes: number;
}

/** How a native histogram is laid out (see `resolveNativeHistogramConfig` in lib/core/native-histogram.ts). */
export interface NativeHistogramConfig {
  readonly schema: number;
  readonly maxBuckets: number;
  readonly zeroThreshold: number;
}

/** `nativeHistograms` checked, defaults filled in. */
export interface ResolvedNativeHistograms {
  readonly config: NativeHistogramConfig;
  /** Whether the classic buckets are kept alongside. */
  readonly classicBuckets: boolean;
}
