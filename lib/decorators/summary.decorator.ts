import type { SummaryDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/**
 * Observes each call's duration in seconds into a summary (quantiles). On a controller class:
 * every route handler.
 *
 * @example
 * ```ts
 * @Summary({ name: 'orders_lookup_seconds', help: 'Order lookups', percentiles: [0.5, 0.9, 0.99] })
 * async find(id: number): Promise<Order> { ... }
 * ```
 * @public
 */
export const Summary = (options: SummaryDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('summary', options);
