import type { SummaryDecoratorOptions } from '../interfaces/index.js';
import { createMetricDecorator } from './metric.decorator.js';

/** Observes each call's duration in seconds into a summary (quantiles). On a controller class: every route handler. */
export const Summary = (options: SummaryDecoratorOptions): ClassDecorator & MethodDecorator =>
  createMetricDecorator('summary', options);
