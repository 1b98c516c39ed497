import type { Registry } from 'prom-client';
import type { ResolvedNativeHistograms } from './native-histogram-options.js';
import type { CardinalityGuard } from './cardinality-guard.js';
import { findOrRegisterMetric } from './metric-registrar.js';
import { CounterFamily } from './counter-family.js';
import { GaugeFamily } from './gauge-family.js';
import { HistogramFamily } from './histogram-family.js';

/**
 * Finds or creates the module's own series families (counters, gauges, histograms of the HTTP,
 * transport and outbound metrics) in a registry, each held to the cardinality guard's limits.
 * prom-client metrics (decorators, make*Provider) come from `findOrCreatePromMetric` instead; both
 * register through `findOrRegisterMetric`, which refuses a second, different definition of a name.
 */
export class FamilyFactory {
  constructor(
    private readonly registry: Registry,
    private readonly guard: CardinalityGuard,
    private readonly declaredBy: string,
  ) {}

  counter(name: string, help: string, labelNames: string[]): CounterFamily {
    const def = { type: 'counter' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(
      findOrRegisterMetric(this.registry, def, CounterFamily, () => new CounterFamily(name, help, labelNames)),
    );
  }

  gauge(name: string, help: string, labelNames: string[]): GaugeFamily {
    const def = { type: 'gauge' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(
      findOrRegisterMetric(this.registry, def, GaugeFamily, () => new GaugeFamily(name, help, labelNames)),
    );
  }

  histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets: readonly number[],
    native?: ResolvedNativeHistograms | false,
  ): HistogramFamily {
    // Without classic buckets, a series keeps only the +Inf slot: `_sum` and `_count` in text.
    const bounds = native && !native.classicBuckets ? [] : buckets;
    const def = { type: 'histogram' as const, name, help, labelNames, buckets, declaredBy: this.declaredBy };
    return this.limited(
      findOrRegisterMetric(
        this.registry,
        def,
        HistogramFamily,
        () => new HistogramFamily(name, help, labelNames, bounds, native ? native.config : undefined),
      ),
    );
  }

  private limited<M extends { limitBy(guard: CardinalityGuard): void }>(metric: M): M {
    metric.limitBy(this.guard);
    return metric;
  }
}
