import type { ResolvedNativeHistograms } from '../core/native-histogram-options.js';
import type { Registry } from 'prom-client';
import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { ensureMetric } from './metric-registrar.js';
import { SeriesCounter } from './series-counter.js';
import { SeriesGauge } from './series-gauge.js';
import { SeriesHistogram } from './series-histogram.js';

/** Creates (or finds) the module's own series metrics in a registry, held to the guard's limits. */
export class MetricFactory {
  constructor(
    private readonly registry: Registry,
    private readonly guard: CardinalityGuard,
    private readonly declaredBy: string,
  ) {}

  counter(name: string, help: string, labelNames: string[]): SeriesCounter {
    const def = { type: 'counter' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(
      ensureMetric(this.registry, def, SeriesCounter, () => new SeriesCounter(name, help, labelNames)),
    );
  }

  gauge(name: string, help: string, labelNames: string[]): SeriesGauge {
    const def = { type: 'gauge' as const, name, help, labelNames, declaredBy: this.declaredBy };
    return this.limited(ensureMetric(this.registry, def, SeriesGauge, () => new SeriesGauge(name, help, labelNames)));
  }

  histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets: readonly number[],
    native?: ResolvedNativeHistograms | false,
  ): SeriesHistogram {
    // Without classic buckets, a series keeps only the +Inf slot: `_sum` and `_count` in text.
    const bounds = native && !native.classicBuckets ? [] : buckets;
    const def = { type: 'histogram' as const, name, help, labelNames, buckets, declaredBy: this.declaredBy };
    return this.limited(
      ensureMetric(
        this.registry,
        def,
        SeriesHistogram,
        () => new SeriesHistogram(name, help, labelNames, bounds, native ? native.config : undefined),
      ),
    );
  }

  private limited<M extends { limitBy(guard: CardinalityGuard): void }>(metric: M): M {
    metric.limitBy(this.guard);
    return metric;
  }
}
