import type { GaugeDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/**
 * Tracks calls in progress: +1 when the method is entered, -1 when the call ends.
 *
 * @example
 * ```ts
 * @Gauge({ name: 'orders_payments_in_progress', help: 'Payments being processed' })
 * async pay(order: Order): Promise<void> { ... }
 * ```
 * @public
 */
export const Gauge = (options: GaugeDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('gauge', options);
