import type { HistogramDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/** Observes each call's duration in seconds. On a controller class: every route handler. */
export const Histogram = (options: HistogramDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('histogram', options);
