import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DefaultMetricsCollectorConfiguration, Registry, RegistryContentType } from 'prom-client';

/**
 * prom-client's process and Node.js metrics (`collectDefaultMetrics`): on by default.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ defaultMetrics: { config: { prefix: 'orders_' } } });
 * ```
 * @public
 */
export interface DefaultMetricsOptions {
  /** Collect prom-client's process and Node.js metrics. Default `true`. */
  enabled?: boolean;
  /** Passed to prom-client's `collectDefaultMetrics` (the registry is set by the module). */
  config?: Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>;
}

/**
 * What the module knows of one counted HTTP request, for `http.observe` callbacks.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { observe: [(info: HttpRequestInfo) => console.log(info.route, info.statusCode)] } });
 * ```
 * @public
 */
export interface HttpRequestInfo {
  method: string;
  /** The route template (`/users/:id`), or `__unmatched__`. */
  route: string;
  /** The status sent, or 499 when the client went away first. */
  statusCode: number;
  durationSeconds: number;
  /** Content-Length of the request body (0 when absent). */
  requestSize: number;
  /** Content-Length of the response (0 when absent or chunked). */
  responseSize: number;
  /** Class name of the error that ended the request, for 5xx responses. */
  exception?: string;
  /** The raw request (Fastify's `request.raw`; Express's `req`). */
  request: IncomingMessage;
  response: ServerResponse;
}

/**
 * A default HTTP metric: `false` leaves it out, `{ name }` renames it (the whole name: no prefix added).
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { metrics: { requestSize: false, requests: { name: 'api_requests_total' } } } });
 * ```
 * @public
 */
export type HttpMetricSwitch = boolean | { name: string };

/**
 * Each default HTTP metric: `false` leaves it out, `{ name }` renames it.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { metrics: { inProgress: false } } });
 * ```
 * @public
 */
export interface HttpMetricSwitches {
  /** `http_requests_total` */
  requests?: HttpMetricSwitch;
  /** `http_request_duration_seconds` */
  duration?: HttpMetricSwitch;
  /** `http_requests_in_progress` */
  inProgress?: HttpMetricSwitch;
  /** `http_exceptions_total` */
  exceptions?: HttpMetricSwitch;
  /** `http_request_size_bytes` */
  requestSize?: HttpMetricSwitch;
  /** `http_response_size_bytes` */
  responseSize?: HttpMetricSwitch;
}

/**
 * The summary of `http.latency: 'summary'`: its quantiles and sliding window.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { latency: 'summary', summary: { percentiles: [0.5, 0.99], maxAgeSeconds: 300 } } });
 * ```
 * @public
 */
export interface HttpLatencySummaryOptions {
  /** Default `[0.5, 0.9, 0.99]`. */
  percentiles?: number[];
  /** Window the quantiles cover, in seconds. Default 600. */
  maxAgeSeconds?: number;
  /** Buckets the window slides by. Default 5. */
  ageBuckets?: number;
}

/**
 * Native (sparse, exponential) histograms, as Prometheus reads them from the protobuf exposition
 * (Prometheus 2.40+ with `--enable-feature=native-histograms`, 3.x with
 * `scrape_native_histograms`). One series per label set, any quantile within `bucketFactor` of the
 * true value. Text and OpenMetrics scrapes show only the classic buckets.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { nativeHistograms: { bucketFactor: 1.05, maxBuckets: 100 } } });
 * ```
 * @public
 */
export interface NativeHistogramOptions {
  /**
   * Largest ratio of two neighbouring bucket bounds (above 1); the schema is the finest whose buckets
   * are no wider. Default `1.1` (schema 3: buckets 2^(1/8) ≈ 1.09 wide, quantiles within 9%).
   */
  bucketFactor?: number;
  /**
   * Most populated buckets per series (a whole number, at least 1): past it, the resolution is halved
   * (pairs of buckets merged) until it fits. Default `160`.
   */
  maxBuckets?: number;
  /** Values whose magnitude is at most this (0 or more) count in the zero bucket. Default 2^-128. */
  zeroThreshold?: number;
  /**
   * Keep the classic buckets alongside (for text scrapers and dashboards on `_bucket`). Default
   * `true`; `false` keeps only `_sum`, `_count` and the `+Inf` bucket in text scrapes.
   */
  classicBuckets?: boolean;
}

/**
 * Options of the default HTTP metrics (`http`).
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ http: { prefix: 'api_', groupStatusCodes: true, excludeMethods: ['OPTIONS'] } });
 * ```
 * @public
 */
export interface HttpMetricsOptions {
  /** Prepended to every default HTTP metric name, e.g. `myapp_` gives `myapp_http_requests_total`. */
  prefix?: string;
  /** Buckets of `http_request_duration_seconds`, in seconds. */
  buckets?: number[];
  /**
   * Also record `http_request_duration_seconds` as a native histogram, shown to scrapers that ask
   * for the protobuf exposition. `true` takes the defaults of {@link NativeHistogramOptions}.
   * Default `false`.
   */
  nativeHistograms?: boolean | NativeHistogramOptions;
  /** Buckets of the request and response size histograms, in bytes. */
  sizeBuckets?: number[];
  /**
   * Requests to leave uncounted: a string matches a route template (`/health`, `/users/:id`)
   * exactly, a RegExp is tested against it. Unmatched requests are tested by their path.
   */
  excludePaths?: (string | RegExp)[];
  /** HTTP methods to leave uncounted, e.g. `['OPTIONS', 'HEAD']`. */
  excludeMethods?: string[];
  /** Label status codes as `2xx`, `4xx`, ... instead of `200`, `404`, ... Default `false`. */
  groupStatusCodes?: boolean;
  /**
   * Requests that match no route: `'group'` counts them under `route="__unmatched__"`,
   * `'ignore'` leaves them out. Default `'group'`.
   */
  unmatchedRoutes?: 'group' | 'ignore';
  /** Record `http_request_size_bytes` and `http_response_size_bytes`. Default `true`. */
  requestSizes?: boolean;
  /**
   * Attach exemplars to `http_requests_total` and `http_request_duration_seconds` (shown only when
   * the scrape negotiates OpenMetrics). `true` takes `trace_id` from the W3C `traceparent` header;
   * a function returns the exemplar's labels for a request, or `undefined` for none. Default `false`.
   */
  exemplars?: boolean | ((request: IncomingMessage) => Record<string, string> | undefined);
  /**
   * Called once per counted request, after the default metrics, with what the module measured:
   * to record metrics of your own. A callback that throws is reported once and never breaks the request.
   */
  observe?: Array<(info: HttpRequestInfo) => void>;
  /**
   * Extra labels, each from a function of the request (e.g. a tenant header), on every default HTTP
   * metric but `http_requests_in_progress`. Bounded by `maxSeriesPerMetric` like every label.
   */
  labels?: Record<string, (request: IncomingMessage) => string | number>;
  /** Turn default HTTP metrics off one by one, or rename them. */
  metrics?: HttpMetricSwitches;
  /** Record the request duration as a histogram (default) or as a summary (quantiles per process). */
  latency?: 'histogram' | 'summary';
  /** The summary of `latency: 'summary'`. */
  summary?: HttpLatencySummaryOptions;
}

/**
 * Default metrics of a non-HTTP transport (microservices, WebSockets, GraphQL).
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ rpc: { prefix: 'orders_', exclude: [/^internal\./] } });
 * ```
 * @public
 */
export interface TransportMetricsOptions {
  /** Prepended to the family's metric names. */
  prefix?: string;
  /** Buckets of the duration histogram, in seconds. */
  buckets?: number[];
  /** Also record the duration as a native histogram (see {@link NativeHistogramOptions}). Default `false`. */
  nativeHistograms?: boolean | NativeHistogramOptions;
  /** Handlers to leave out: by pattern (`rpc`), event (`ws`) or root field (`graphql`), exactly or by RegExp. */
  exclude?: (string | RegExp)[];
}

/**
 * Options of the outbound HTTP metrics (`httpClient`): requests made with fetch/undici or `node:http`.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ httpClient: { enabled: true, hosts: ['api.stripe.com', /\.internal:8080$/] } });
 * ```
 * @public
 */
export interface HttpClientMetricsOptions {
  /** Record outgoing HTTP requests (fetch/undici, node:http and node:https). Default `false`. */
  enabled?: boolean;
  /**
   * Hosts (`host` or `host:port`, or a RegExp tested against it) to label by name; others are
   * labelled `other`. Default: every host by name (bounded by `maxSeriesPerMetric`).
   */
  hosts?: (string | RegExp)[];
  /** Buckets of `http_client_request_duration_seconds`, in seconds. */
  buckets?: number[];
  /** Also record the duration as a native histogram (see {@link NativeHistogramOptions}). Default `false`. */
  nativeHistograms?: boolean | NativeHistogramOptions;
  /** Prepended to the outbound metric names. */
  prefix?: string;
}

/**
 * Options of the Pushgateway (`pushgateway`): where to push, as which job, and when.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ pushgateway: { url: 'http://pushgateway:9091', jobName: 'nightly-import' } });
 * ```
 * @public
 */
export interface PushgatewayOptions {
  /** Base URL of the Pushgateway, e.g. `http://pushgateway:9091`. */
  url: string;
  /**
   * The `job` grouping label of the automatic pushes (`intervalMs`, `pushOnShutdown`) and the
   * default of `PushgatewayService` calls. Optional, as in `@willsoto/nestjs-prometheus`, where each
   * call names its job (`pushgateway.pushAdd({ jobName })`): without it, nothing is pushed automatically.
   */
  jobName?: string;
  /** Further grouping labels, e.g. `{ instance: os.hostname() }`. */
  groupings?: Record<string, string>;
  /** Push (replacing the group, PUT) every `intervalMs` milliseconds; off when unset or 0. */
  intervalMs?: number;
  /** Push once more when the app shuts down (`app.close()`, or a signal with shutdown hooks). Default `true`. */
  pushOnShutdown?: boolean;
  /** Give up on a push after this many milliseconds (the whole exchange, reading the answer included). Default 5000. */
  timeoutMs?: number;
  /** Extra request headers, e.g. `{ Authorization: 'Bearer ...' }`. */
  headers?: Record<string, string>;
  /**
   * prom-client's `Pushgateway` request options, as `@willsoto/nestjs-prometheus` takes them: `headers`,
   * `timeout` (ms) and `auth` (`'user:password'`) are used; any other key is warned about at bootstrap.
   */
  options?: PushgatewayRequestOptions;
  /** The registry to push. Default: the module's. */
  registry?: Registry;
}

/**
 * The part of Node's request options that `pushgateway.options` honours.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ pushgateway: { url: 'http://pushgateway:9091', options: { timeout: 2000 } } });
 * ```
 * @public
 */
export interface PushgatewayRequestOptions {
  headers?: Record<string, string>;
  /** Give up after this many milliseconds (the same as `timeoutMs`). */
  timeout?: number;
  /** Basic authentication, `'user:password'`. */
  auth?: string;
  [option: string]: unknown;
}

/**
 * Options of a `node:cluster` worker (`cluster`): how long a scrape waits for the primary's aggregate.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ cluster: { timeoutMs: 3000 } });
 * ```
 * @public
 */
export interface ClusterWorkerOptions {
  /**
   * When this worker is scraped: how long the primary waits for each worker's metrics (at most its
   * own `setupPrimary({ timeoutMs })`); slower workers are left out of that scrape. Default 2000 ms.
   */
  timeoutMs?: number;
}

/**
 * The status page (`statusPage`): where it is served and how much history it keeps.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ statusPage: { path: '/status', refreshSeconds: 2, historyMinutes: 30 } });
 * ```
 * @public
 */
export interface StatusPageOptions {
  /** Path of the page; its data is at `{path}.json`. Default: the metrics path followed by `/status`. */
  path?: string;
  /** Seconds between two samples of the metrics, and between two refreshes of the page. Default 5 (1 to 60). */
  refreshSeconds?: number;
  /** Minutes of history the charts show (kept in memory). Default 15 (1 to 120). */
  historyMinutes?: number;
}

/**
 * The options of `PrometheusModule.forRoot()` (and of what a `forRootAsync()` factory returns); every one is optional.
 *
 * @example
 * ```ts
 * PrometheusModule.forRoot({ defaultLabels: { service: 'orders' }, http: { excludePaths: ['/health'] } });
 * ```
 * @public
 */
export interface PrometheusModuleOptions {
  /** Path of the metrics endpoint. Default `/metrics`; `false` serves no endpoint. */
  path?: string | false;
  /** Registry to fill and serve. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Labels added to every metric of the registry. */
  defaultLabels?: Record<string, string | number>;
  /** prom-client's default process and Node.js metrics. */
  defaultMetrics?: DefaultMetricsOptions;
  /** Default HTTP request metrics; `false` turns them off. */
  http?: false | HttpMetricsOptions;
  /** Labels of an `app_info` gauge set to 1, e.g. `{ version: '1.2.3' }` (Flask's `metrics.info`). */
  info?: Record<string, string>;
  /**
   * Most series (label sets) any metric the module creates may hold; new label sets beyond it are
   * recorded under one series labelled `__overflow__`. Default 10,000; `0` or `Infinity` turns it off.
   */
  maxSeriesPerMetric?: number;
  /** Label values longer than this many characters are truncated. Default 128; `0` or `Infinity` turns it off. */
  maxLabelValueLength?: number;
  /**
   * Serve the metrics on an HTTP server of their own on this port (`0`: any free port), and not
   * on the app's port unless `path` is also given.
   */
  port?: number;
  /**
   * Interface of the metrics server (`port`). Default `127.0.0.1`: loopback only, since `guards`
   * do not apply there. `'0.0.0.0'` (or `'::'`) exposes it, e.g. to Prometheus in another pod.
   */
  host?: string;
  /**
   * Most renderings of the exposition in progress at once. Concurrent scrapes asking for the same
   * format (and `?name[]=` filter) share one rendering and count once; a scrape past the limit is
   * answered `503` with `Retry-After: 1` at once. Default 2.
   */
  maxConcurrentScrapes?: number;
  /** Push the registry to a Prometheus Pushgateway (batch jobs, cron tasks). */
  pushgateway?: PushgatewayOptions;
  /**
   * This process is a `node:cluster` worker: `/metrics` answers with the metrics of every worker,
   * aggregated by the primary (which calls `PrometheusCluster.setupPrimary()`).
   */
  cluster?: boolean | ClusterWorkerOptions;
  /** Outbound HTTP request metrics. */
  httpClient?: HttpClientMetricsOptions;
  /** Metrics of microservice message and event handlers; on when the app has some. `false` turns them off. */
  rpc?: false | TransportMetricsOptions;
  /** Metrics of WebSocket gateways; on when the app has some. `false` turns them off. */
  ws?: false | TransportMetricsOptions;
  /** Metrics of GraphQL root fields; on when the app has resolvers. `false` turns them off. */
  graphql?: false | TransportMetricsOptions;
  /**
   * Prepended, with `_`, to the name of every metric of `make*Provider()` and
   * `PrometheusModule.forFeature()` (`app` makes `orders_total` `app_orders_total`), as
   * `@willsoto/nestjs-prometheus` does. Not to decorator metrics, whose scraped name is the one
   * written in the decorator, nor to the default HTTP metrics (`http.prefix`) or prom-client's
   * (`defaultMetrics.config.prefix`). `@InjectMetric()` takes the name without the prefix.
   */
  customMetricPrefix?: string;
  /**
   * `false`: the module instruments nothing, collects nothing and serves nothing (metrics injected
   * with `@InjectMetric` still exist, so the app runs unchanged). Default `true`.
   */
  enabled?: boolean;
  /**
   * A live page of the service's RED metrics at `{path}` (default `{metrics path}/status`), and
   * its data at `{path}.json`, with the metrics endpoint's guards. Off by default: nothing is
   * served or sampled. `true` takes every default.
   */
  statusPage?: boolean | StatusPageOptions;
}
