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

/**
 * Token of a handler the metrics server of `port` offers every request it does not answer itself
 * (the status page's): `(req, res) => boolean`, `true` when it answered. A contract between two
 * features (endpoint serves, status-page answers), so it lives below both.
 *
 * @example
 * ```ts
 * { provide: METRICS_SERVER_ROUTES, useFactory: (page: StatusPageService) => page.serveOnMetricsServer, inject: [StatusPageService] }
 * ```
 */
export const METRICS_SERVER_ROUTES = Symbol('METRICS_SERVER_ROUTES');
