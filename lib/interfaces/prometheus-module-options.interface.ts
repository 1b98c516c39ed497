import type { IncomingMessage } from 'node:http';
import type { DefaultMetricsCollectorConfiguration, Registry, RegistryContentType } from 'prom-client';

export interface DefaultMetricsOptions {
  /** Collect prom-client's process and Node.js metrics. Default `true`. */
  enabled?: boolean;
  /** Passed to prom-client's `collectDefaultMetrics` (the registry is set by the module). */
  config?: Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>;
}

export interface HttpMetricsOptions {
  /** Prepended to every default HTTP metric name, e.g. `myapp_` gives `myapp_http_requests_total`. */
  prefix?: string;
  /** Buckets of `http_request_duration_seconds`, in seconds. */
  buckets?: number[];
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
}

export interface PushgatewayOptions {
  /** Base URL of the Pushgateway, e.g. `http://pushgateway:9091`. */
  url: string;
  /** The `job` grouping label. */
  jobName: string;
  /** Further grouping labels, e.g. `{ instance: os.hostname() }`. */
  groupings?: Record<string, string>;
  /** Push (replacing the group, PUT) every `intervalMs` milliseconds; off when unset or 0. */
  intervalMs?: number;
  /** Push once more when the app shuts down (`app.close()`, or a signal with shutdown hooks). Default `true`. */
  pushOnShutdown?: boolean;
  /** Give up on a push after this many milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Extra request headers, e.g. `{ Authorization: 'Bearer ...' }`. */
  headers?: Record<string, string>;
}

export interface ClusterWorkerOptions {
  /** How long the primary waits for each worker's metrics; slower workers are left out of that scrape. Default 2000 ms. */
  timeoutMs?: number;
}

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
  /** Interface of the metrics server (`port`). Default: every interface, as `app.listen(port)`. */
  host?: string;
  /** Push the registry to a Prometheus Pushgateway (batch jobs, cron tasks). */
  pushgateway?: PushgatewayOptions;
  /**
   * This process is a `node:cluster` worker: `/metrics` answers with the metrics of every worker,
   * aggregated by the primary (which calls `PrometheusCluster.setupPrimary()`).
   */
  cluster?: boolean | ClusterWorkerOptions;
}
