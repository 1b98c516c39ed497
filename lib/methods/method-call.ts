import { performance } from 'node:perf_hooks';
import type { Counter, Gauge, Histogram, Summary } from 'prom-client';
import type { MetricCallContext } from '../interfaces/index.js';
import type { MethodMetric } from './method-metric.js';
import { describeError } from '../core/describe-error.js';

type Labels = Record<string, string | number>;

/** The metrics of one instrumented method, split by when they record. */
export interface MethodMetrics {
  /** Recorded on entry and at the end (in progress). */
  readonly gauges: readonly MethodMetric[];
  /** Recorded at the end (counters, histograms, summaries). */
  readonly finals: readonly MethodMetric[];
}

/** One call of an instrumented method, from entry to its end. */
export class MethodCall implements MetricCallContext {
  result?: unknown;
  error?: unknown;
  private readonly start = performance.now();
  private gaugeLabels?: Labels[];
  private ended = false;

  constructor(
    readonly instance: unknown,
    readonly args: readonly unknown[],
    readonly request: unknown,
    private readonly metrics: MethodMetrics,
  ) {
    const gauges = metrics.gauges;
    if (gauges.length === 0) return;
    this.gaugeLabels = [];
    for (const m of gauges) {
      const labels = m.labels(this);
      this.gaugeLabels.push(labels);
      record(m, () => (m.metric as Gauge).inc(labels));
    }
  }

  succeed(result: unknown): void {
    this.result = result;
    this.end(false);
  }

  fail(error: unknown): void {
    this.error = error;
    this.end(true);
  }

  /** Ends the in-progress part without counting: an Observable result is measured per subscription. */
  handOver(): void {
    this.ended = true;
    this.leave();
  }

  private end(failed: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.leave();
    const seconds = (performance.now() - this.start) / 1000;
    for (const m of this.metrics.finals) {
      if (m.type === 'counter') {
        if (m.on === 'error' ? !failed : m.on === 'success' ? failed : false) continue;
        record(m, () => (m.metric as Counter).inc(m.labels(this)));
      } else {
        record(m, () => (m.metric as Histogram | Summary).observe(m.labels(this), seconds));
      }
    }
  }

  private leave(): void {
    const labels = this.gaugeLabels;
    if (!labels) return;
    this.metrics.gauges.forEach((m, i) => record(m, () => (m.metric as Gauge).dec(labels[i])));
  }
}

function record(metric: MethodMetric, update: () => void): void {
  try {
    update();
  } catch (error) {
    metric.warn(`could not record: ${describeError(error)}`);
  }
}
