import { Inject } from '@nestjs/common';

/**
 * The injection token of a metric: `PROM_METRIC_` and the name in upper case, exactly as
 * `@willsoto/nestjs-prometheus` makes it, so `moduleRef.get(getToken('x'))`,
 * `overrideProvider(getToken('x'))` and hand-written `'PROM_METRIC_X'` tokens keep working after a
 * migration. Two metric names that differ only in case therefore share a token.
 *
 * @example
 * ```ts
 * const counter = moduleRef.get<Counter<string>>(getToken('orders_total'));
 * ```
 *
 * @public
 */
export function getToken(name: string): string {
  return `PROM_METRIC_${String(name).toUpperCase()}`;
}

/**
 * The same as {@link getToken} (this library's earlier name for it).
 *
 * @example
 * ```ts
 * Test.createTestingModule({ ... }).overrideProvider(getMetricToken('orders_total')).useValue(fake);
 * ```
 *
 * @public
 */
export const getMetricToken: (name: string) => string = getToken;

/**
 * Injects the prom-client metric of that name: one declared with `makeCounterProvider()` (etc.),
 * `PrometheusModule.forFeature()`, or a metric decorator. Type the parameter, e.g. `Counter<'status'>`.
 *
 * @example
 * ```ts
 * constructor(@InjectMetric('orders_refunds_total') private readonly refunds: Counter<'reason'>) {}
 * ```
 * @public
 */
export const InjectMetric = (name: string): PropertyDecorator & ParameterDecorator => Inject(getToken(name));
