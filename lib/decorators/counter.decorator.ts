import type { CounterDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/**
 * Counts each completed call of the method (a return, a throw, a settled Promise, an ended
 * Observable); `on: 'error'` counts failed calls only. On a controller class: every route handler.
 *
 * @example
 * ```ts
 * @Counter({ name: 'orders_placed_total', help: 'Orders placed', labels: { outcome: ctx => (ctx.error ? 'error' : 'ok') } })
 * async place(amount: number): Promise<Order> { ... }
 * ```
 * @public
 */
export const Counter = (options: CounterDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('counter', options);
