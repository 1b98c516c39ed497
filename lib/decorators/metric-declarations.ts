import type {
  CounterDecoratorOptions,
  GaugeDecoratorOptions,
  HistogramDecoratorOptions,
  SummaryDecoratorOptions,
} from '../interfaces/index.js';
import type { MetricKind } from '../metrics/series-metric.js';

export type MetricDecoratorOptions =
  | CounterDecoratorOptions
  | GaugeDecoratorOptions
  | HistogramDecoratorOptions
  | SummaryDecoratorOptions;

/** What one metric decorator stores: the same object for every method one decorator value is put on. */
export interface MetricDeclaration {
  readonly type: MetricKind;
  readonly options: MetricDecoratorOptions;
  /** Where the decorator was first applied, for error messages. */
  declaredAt?: string;
}

// Every metric a decorator declares, by name, as the classes are defined: `PrometheusModule.forRoot()`
// (evaluated after the classes its app imports) makes each injectable with `@InjectMetric(name)`.
const declarations = new Map<string, MetricDeclaration>();

export function recordDeclaration(declaration: MetricDeclaration): void {
  const name = declaration.options?.name;
  if (typeof name === 'string' && !declarations.has(name)) declarations.set(name, declaration);
}

export function declaredMetrics(): MetricDeclaration[] {
  return [...declarations.values()];
}
