import type { Registry } from 'prom-client';
import type { CardinalityGuard } from './cardinality-guard.js';
import { ensureMetric } from './metric-registrar.js';
import { CounterFamily } from './counter-family.js';
import { GaugeFamily } from './gauge-family.js';
import { HistogramFamily } from './histogram-family.js';

/** Creates (or finds) the module's own series metrics in a registry, held to the guard's limits. */
export class MetricFactory {
  constructor(
    private readonly registry: Registry,
    private readonly guard: CardinalityGuard,
    private readonly declaredBy: string,
  ) {}

  counter(name: string, help: string, labelNames: string[]): CounterFamily {
    const def = { type: 'counter' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(
      ensureMetric(this.registry, def, CounterFamily, () => new CounterFamily(name, help, labelNames)),
    );
  }

  gauge(name: string, help: string, labelNames: string[]): GaugeFamily {
    const def = { type: 'gauge' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(ensureMetric(this.registry, def, GaugeFamily, () => new GaugeFamily(name, help, labelNames)));
  }

  histogram(name: string, help: string, labelNames: string[], buckets: readonly number[]): HistogramFamily {
    const def = { type: 'histogram' as const, name, help, labelNames, buckets, declaredBy: this.declaredBy };
    return this.limited(
      ensureMetric(this.registry, def, HistogramFamily, () => new HistogramFamily(name, help, labelNames, buckets)),
    );
  }

  private limited<M extends { limitBy(guard: CardinalityGuard): void }>(metric: M): M {
    metric.limitBy(this.guard);
    return metric;
  }
}
