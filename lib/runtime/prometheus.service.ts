import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, type Gauge, type Registry } from 'prom-client';
import { type RenderedMetrics, renderRegistry } from '../core/exposition/render-metrics.js';
import { ensureCollectErrorsCounter, guardCollectors } from '../core/collect-guard.js';
import { findOrCreatePromMetric } from '../core/prom-metrics.js';
import { PROMETHEUS_OPTIONS } from './runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';

/**
 * The registry the module fills and serves; inject it to read or extend the metrics.
 *
 * @example
 * ```ts
 * constructor(private readonly prometheus: PrometheusService) {}
 * async dump(): Promise<string> {
 *   return this.prometheus.registry.metrics();
 * }
 * ```
 * @public
 */
@Injectable()
export class PrometheusService {
  readonly registry: Registry;

  constructor(@Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions) {
    this.registry = options.registry;
    // One throwing collect callback (ours, a make*Provider's, a plain prom-client metric's) must
    // not take every other metric down with it.
    guardCollectors(this.registry);
    if (options.enabled) ensureCollectErrorsCounter(this.registry);
    if (Object.keys(options.defaultLabels).length > 0) this.registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics.enabled) {
      const config = options.defaultMetrics.config ?? {};
      // A second app in the process (or the user) may have registered them already.
      if (!this.registry.getSingleMetric(`${config.prefix ?? ''}process_cpu_user_seconds_total`)) {
        collectDefaultMetrics({ ...config, register: this.registry });
      }
    }
    if (options.info) {
      const info = findOrCreatePromMetric(
        this.registry,
        'gauge',
        {
          name: 'app_info',
          help: 'Information about the application, as labels',
          labelNames: Object.keys(options.info),
          // Every cluster worker says 1: the aggregate must too.
          aggregator: 'first',
        },
        'PrometheusModule options.info',
      ) as Gauge;
      info.set(options.info, 1);
    }
  }

  /** This process's registry in the format the `Accept` header asks for: OpenMetrics or Prometheus text. */
  render(accept?: string): Promise<RenderedMetrics> {
    return renderRegistry(this.registry, accept);
  }
}
