/** Metadata set by `@DoNotTrack()` on a controller class or a handler method. */
export const DO_NOT_TRACK_METADATA = 'nestjs-prom-metrics:do-not-track';

/**
 * Label value of requests that matched no route (`http.unmatchedRoutes: 'group'`).
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, 'http_requests_total', { route: UNMATCHED_ROUTE })).toBe(1);
 * ```
 * @public
 */
export const UNMATCHED_ROUTE = '__unmatched__';

/** Status label of requests whose client went away before the response ended (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

export const DEFAULT_METRICS_PATH = '/metrics';

/**
 * Token of a handler the metrics server of `port` offers every request it does not answer itself
 * (the status page's): `(req, res) => boolean`, `true` when it answered.
 *
 * @example
 * ```ts
 * { provide: METRICS_SERVER_ROUTES, useFactory: (page: StatusPageService) => page.serveOnMetricsServer, inject: [StatusPageService] }
 * ```
 */
export const METRICS_SERVER_ROUTES = Symbol('METRICS_SERVER_ROUTES');
/** Interface of the metrics servers (`port`, `PrometheusCluster.setupPrimary({ port })`) unless `host` is given: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** prom-client's default buckets: 5 ms to 10 s. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** 100 B to 10 MB, one bucket per decade. */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/**
 * Injection token of the module's resolved options (defaults merged). `make*Provider()` metrics
 * read `registry` and `customMetricPrefix` from it when it is there (optional, as in
 * `@willsoto/nestjs-prometheus`): a unit test without the module may provide it.
 *
 * @example
 * ```ts
 * Test.createTestingModule({
 *   providers: [{ provide: PROMETHEUS_OPTIONS, useValue: { customMetricPrefix: 'app' } }, makeGaugeProvider({ name: 'g', help: 'h' })],
 * });
 * ```
 *
 * @public
 */
export const PROMETHEUS_OPTIONS = Symbol('PROMETHEUS_OPTIONS');

/** Route config flag (Fastify) of handlers marked `@DoNotTrack()`, set at bootstrap. */
export const UNTRACKED_ROUTE_CONFIG = 'nestjs-prom-metrics:untracked';

/** Route config flag (Fastify) of every controller route, set at bootstrap. */
export const CONTROLLER_ROUTE_CONFIG = 'nestjs-prom-metrics:controller';

/** `@nestjs/platform-fastify`'s key for `@RouteConfig()`: Nest turns it into the route's config. */
export const FASTIFY_ROUTE_CONFIG_METADATA = '__fastify_route_config__';

/** Metric decorators (`@Counter`, ...) stored on a method or a controller class. */
export const METRIC_DECORATORS_METADATA = 'nestjs-prom-metrics:metric-decorators';

/** Label value of the series that takes new label sets once a metric reached `maxSeriesPerMetric`. */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

export const DEFAULT_MAX_SERIES_PER_METRIC = 10_000;

export const DEFAULT_MAX_LABEL_VALUE_LENGTH = 128;

/** `@nestjs/swagger`'s metadata of `@ApiExcludeController()`: set without importing the package. */
export const SWAGGER_EXCLUDE_CONTROLLER_METADATA = 'swagger/apiExcludeController';
