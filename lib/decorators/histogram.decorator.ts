import type { HistogramDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/**
 * Observes each call's duration in seconds. On a controller class: every route handler.
 *
 * @example
 * ```ts
 * @Histogram({ name: 'orders_payment_seconds', help: 'Payment time', buckets: [0.01, 0.05, 0.1, 0.5] })
 * async pay(order: Order): Promise<void> { ... }
 * ```
 * @public
 */
export const Histogram = (options: HistogramDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('histogram', options);
