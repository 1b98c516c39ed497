import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Gauge, Registry, type RegistryContentType } from 'prom-client';
import { ensurePromMetric } from './metrics/prom-metrics.js';
import { PROMETHEUS_OPTIONS } from './prometheus.constants.js';
import type { ResolvedPrometheusOptions } from './prometheus-options.js';

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

type JsonMetric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/** The registry the module fills and serves; inject it to read or extend the metrics. */
@Injectable()
export class PrometheusService {
  readonly registry: Registry;

  constructor(@Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions) {
    this.registry = options.registry;
    if (Object.keys(options.defaultLabels).length > 0) this.registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics.enabled) {
      const config = options.defaultMetrics.config ?? {};
      // A second app in the process (or the user) may have registered them already.
      if (!this.registry.getSingleMetric(`${config.prefix ?? ''}process_cpu_user_seconds_total`)) {
        collectDefaultMetrics({ ...config, register: this.registry });
      }
    }
    if (options.info) {
      const info = ensurePromMetric(
        this.registry,
        'gauge',
        { name: 'app_info', help: 'Information about the application, as labels', labelNames: Object.keys(options.info) },
        'PrometheusModule options.info',
      ) as Gauge<string>;
      info.set(options.info, 1);
    }
  }

  /** The exposition in the format the `Accept` header asks for: OpenMetrics or Prometheus text. */
  async render(accept?: string): Promise<RenderedMetrics> {
    const wanted: RegistryContentType = accept?.includes('application/openmetrics-text')
      ? Registry.OPENMETRICS_CONTENT_TYPE
      : Registry.PROMETHEUS_CONTENT_TYPE;
    // prom-client renames counters for good while rendering OpenMetrics (`metric.name` loses
    // `_total`) and fixes a registry's format at construction: render OpenMetrics, and any
    // format the registry was not made for, from a snapshot in a registry of that format.
    if (wanted === Registry.PROMETHEUS_CONTENT_TYPE && this.registry.contentType === wanted) {
      return { contentType: wanted, body: await this.registry.metrics() };
    }
    const view = new (Registry as new (type: RegistryContentType) => Registry<RegistryContentType>)(wanted);
    for (const metric of await this.registry.getMetricsAsJSON()) view.registerMetric(snapshot(metric) as never);
    return { contentType: wanted, body: await view.metrics() };
  }
}

function snapshot(metric: JsonMetric) {
  return {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    async get(this: { name: string }) {
      return { ...metric, name: this.name };
    },
  };
}
