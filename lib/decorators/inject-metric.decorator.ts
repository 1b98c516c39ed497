import { Inject } from '@nestjs/common';

/** The injection token of a metric; the same as `@willsoto/nestjs-prometheus` uses, for migration. */
export function getMetricToken(name: string): string {
  return `PROM_METRIC_${name}`;
}

/**
 * Injects the prom-client metric of that name: one declared with `makeCounterProvider()` (etc.),
 * `PrometheusModule.forFeature()`, or a metric decorator. Type the parameter, e.g. `Counter<'status'>`.
 */
export const InjectMetric = (name: string): PropertyDecorator & ParameterDecorator => Inject(getMetricToken(name));
