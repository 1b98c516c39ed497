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
