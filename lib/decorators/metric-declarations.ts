import type {
  CounterDecoratorOptions,
  GaugeDecoratorOptions,
  HistogramDecoratorOptions,
  SummaryDecoratorOptions,
} from '../interfaces/index.js';
import type { MetricKind } from '../core/samples.js';
import { METRIC_DECORATORS_METADATA } from './decorator.constants.js';

export type MetricDecoratorOptions =
  CounterDecoratorOptions | GaugeDecoratorOptions | HistogramDecoratorOptions | SummaryDecoratorOptions;

/** What one metric decorator stores: the same object for every method one decorator value is put on. */
export interface MetricDeclaration {
  readonly type: MetricKind;
  readonly options: MetricDecoratorOptions;
  /** Where the decorator was first applied, for error messages. */
  declaredAt?: string;
  /** The class it was first applied to (or whose method). */
  owner?: unknown;
}

// The names of the metrics decorators declare, as the classes are defined: `PrometheusModule.forRoot()`
// (evaluated after the classes its app imports) makes each name injectable with `@InjectMetric(name)`,
// resolved to the declaration of a class that is part of the app (see MethodMetricsExplorer).
const declarations = new Map<string, MetricDeclaration[]>();

export function recordDeclaration(declaration: MetricDeclaration): void {
  const name = declaration.options?.name;
  if (typeof name !== 'string') return;
  const list = declarations.get(name);
  if (list) list.push(declaration);
  else declarations.set(name, [declaration]);
}

export function declaredMetricNames(): string[] {
  return [...declarations.keys()];
}

export function declarationsNamed(name: string): readonly MetricDeclaration[] {
  return declarations.get(name) ?? [];
}

/** The metric decorators on a method or a class. */
export function declarationsOf(target: unknown): MetricDeclaration[] {
  if (typeof target !== 'function') return [];
  return (Reflect.getMetadata(METRIC_DECORATORS_METADATA, target) as MetricDeclaration[] | undefined) ?? [];
}
