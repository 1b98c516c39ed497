import type { Provider } from '@nestjs/common';
import type {
  CounterConfiguration,
  GaugeConfiguration,
  HistogramConfiguration,
  MetricConfiguration,
  SummaryConfiguration,
} from 'prom-client';
import { getMetricToken } from './decorators/inject-metric.decorator.js';
import type { MetricProviderDefinition } from './interfaces/index.js';
import { ensurePromMetric } from './metrics/prom-metrics.js';
import type { MetricKind } from './metrics/series-metric.js';
import { PrometheusService } from './prometheus.service.js';

function makeProvider(type: MetricKind, config: MetricConfiguration<string>, declaredBy: string): Provider {
  return {
    provide: getMetricToken(config.name),
    useFactory: (prometheus: PrometheusService) => ensurePromMetric(prometheus.registry, type, config, declaredBy),
    inject: [PrometheusService],
  };
}

/** A provider of a prom-client `Counter` in the module's registry, injected with `@InjectMetric(name)`. */
export function makeCounterProvider(config: CounterConfiguration<string>): Provider {
  return makeProvider('counter', config, `makeCounterProvider(${config?.name})`);
}

/** A provider of a prom-client `Gauge`, injected with `@InjectMetric(name)`. */
export function makeGaugeProvider(config: GaugeConfiguration<string>): Provider {
  return makeProvider('gauge', config, `makeGaugeProvider(${config?.name})`);
}

/** A provider of a prom-client `Histogram`, injected with `@InjectMetric(name)`. */
export function makeHistogramProvider(config: HistogramConfiguration<string>): Provider {
  return makeProvider('histogram', config, `makeHistogramProvider(${config?.name})`);
}

/** A provider of a prom-client `Summary`, injected with `@InjectMetric(name)`. */
export function makeSummaryProvider(config: SummaryConfiguration<string>): Provider {
  return makeProvider('summary', config, `makeSummaryProvider(${config?.name})`);
}

/** Providers for `PrometheusModule.forFeature()`. */
export function makeMetricProviders(definitions: readonly MetricProviderDefinition[]): Provider[] {
  return definitions.map(({ type, ...config }) =>
    makeProvider(type, config, `PrometheusModule.forFeature(${config.name})`),
  );
}
