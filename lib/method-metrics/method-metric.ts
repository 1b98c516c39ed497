import type { Logger } from '@nestjs/common';
import type { LabelValue, MetricCallContext } from '../interfaces/index.js';
import type { PromMetric } from '../metrics/prom-metrics.js';
import type { MetricKind } from '../metrics/series-metric.js';

type Labels = Record<string, string | number>;
type LabelFn = (context: MetricCallContext) => unknown;

// Metrics already warned about: one decorator value may sit on several methods.
const warned = new WeakSet<object>();

/** One metric decorator on one method: its label values resolved as far as possible at bootstrap. */
export class MethodMetric {
  private readonly staticLabels: Labels = {};
  private readonly dynamicLabels: [string, LabelFn][] = [];

  constructor(
    readonly type: MetricKind,
    readonly metric: PromMetric,
    labels: Record<string, LabelValue>,
    readonly on: 'always' | 'error' | 'success',
    private readonly where: string,
    private readonly logger: Logger,
  ) {
    for (const [name, value] of Object.entries(labels)) {
      if (typeof value === 'function') this.dynamicLabels.push([name, value]);
      else if (typeof value === 'string' || typeof value === 'number') this.staticLabels[name] = value;
      else throw new Error(`${where}: label "${name}" must be a string, a number or a function`);
    }
  }

  get isStatic(): boolean {
    return this.dynamicLabels.length === 0;
  }

  labels(context: MetricCallContext): Labels {
    if (this.dynamicLabels.length === 0) return this.staticLabels;
    const labels: Labels = { ...this.staticLabels };
    for (const [name, fn] of this.dynamicLabels) {
      try {
        const value = fn(context);
        labels[name] = typeof value === 'number' || typeof value === 'string' ? value : String(value);
      } catch (error) {
        labels[name] = 'error';
        this.warn(`label "${name}" threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    return labels;
  }

  /** Metrics must never break the call they measure. */
  warn(problem: string): void {
    if (warned.has(this.metric)) return;
    warned.add(this.metric);
    this.logger.warn(`${this.where}: ${problem} (reported once per metric)`);
  }
}
