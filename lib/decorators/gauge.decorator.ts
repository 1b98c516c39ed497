import type { GaugeDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/** Tracks calls in progress: +1 when the method is entered, -1 when the call ends. */
export const Gauge = (options: GaugeDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('gauge', options);
