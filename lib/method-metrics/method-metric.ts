import type { Logger } from '@nestjs/common';
import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import type { LabelValue, MetricCallContext } from '../interfaces/index.js';
import type { PromMetric } from '../metrics/prom-metrics.js';
import type { MetricKind } from '../metrics/series-metric.js';
import { describeError } from '../metrics/describe-error.js';

type Labels = Record<string, string | number>;
type LabelFn = (context: MetricCallContext) => unknown;

// Metrics already warned about: one decorator value may sit on several methods.
const warned = new WeakSet();

/** One metric decorator on one method: its label values resolved as far as possible at bootstrap. */
export class MethodMetric {
  private staticLabels: Labels = {};
  private readonly dynamicLabels: [string, LabelFn][] = [];
  // Sorted, so that every method recording into the metric keys its label sets alike.
  private readonly labelNames: readonly string[];

  constructor(
    readonly type: MetricKind,
    readonly metric: PromMetric,
    labels: Record<string, LabelValue>,
    readonly on: 'always' | 'error' | 'success',
    private readonly where: string,
    private readonly logger: Logger,
    private readonly guard: CardinalityGuard,
  ) {
    for (const [name, value] of Object.entries(labels)) {
      if (typeof value === 'function') this.dynamicLabels.push([name, value]);
      else if (typeof value === 'string' || typeof value === 'number')
        this.staticLabels[name] = guard.labelValue(value);
      else throw new Error(`${where}: label "${name}" must be a string, a number or a function`);
    }
    this.labelNames = Object.keys(labels).sort();
    // A fixed label set is admitted once, at bootstrap: its series exists from the start.
    if (this.isStatic) this.staticLabels = guard.admit(metric, this.labelNames, this.staticLabels);
  }

  get isStatic(): boolean {
    return this.dynamicLabels.length === 0;
  }

  /** The labels of every sample, when none is a function. */
  get fixedLabels(): Labels | undefined {
    return this.isStatic ? this.staticLabels : undefined;
  }

  labels(context: MetricCallContext): Labels {
    if (this.dynamicLabels.length === 0) return this.staticLabels;
    const labels: Labels = { ...this.staticLabels };
    for (const [name, fn] of this.dynamicLabels) {
      try {
        const value = fn(context);
        labels[name] = this.guard.labelValue(
          typeof value === 'number' || typeof value === 'string' ? value : String(value),
        );
      } catch (error) {
        labels[name] = 'error';
        // Whatever was thrown: describing it must not throw (a null-prototype object, a throwing getter).
        this.warn(`label "${name}" threw: ${describeError(error)}`);
      }
    }
    return this.guard.admit(this.metric, this.labelNames, labels);
  }

  /** Metrics must never break the call they measure. */
  warn(problem: string): void {
    if (warned.has(this.metric)) return;
    warned.add(this.metric);
    this.logger.warn(`${this.where}: ${problem} (reported once per metric)`);
  }
}
