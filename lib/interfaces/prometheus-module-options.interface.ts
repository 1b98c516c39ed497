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
}
