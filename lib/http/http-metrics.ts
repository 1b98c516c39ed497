import type { Registry, Summary } from 'prom-client';
import type { CardinalityGuard } from '../core/cardinality-guard.js';
import { FamilyFactory } from '../core/family-factory.js';
import { findOrCreatePromMetric } from '../core/prom-metrics.js';
import type { CounterFamily } from '../core/counter-family.js';
import type { GaugeFamily } from '../core/gauge-family.js';
import type { HistogramFamily } from '../core/histogram-family.js';
import type { ResolvedHttpOptions } from '../interfaces/resolved-options.interface.js';

const DECLARED_BY = 'PrometheusModule (default HTTP metrics)';

/** The default HTTP metric families, registered once per registry; each may be switched off. */
export class HttpMetrics {
  readonly requests?: CounterFamily;
  /** A histogram, or a prom-client summary with `latency: 'summary'`. */
  readonly duration?: HistogramFamily;
  readonly durationSummary?: Summary;
  readonly inProgress?: GaugeFamily;
  readonly exceptions?: CounterFamily;
  readonly requestSize?: HistogramFamily;
  readonly responseSize?: HistogramFamily;
  /** Names of the extra `http.labels`, in the order their values are given. */
  readonly extraLabelNames?: readonly string[];
  /**
   * Label sets of the extra `http.labels` kept by all routes together: each is a series of the
   * metrics, so past `maxSeriesPerMetric` of them the metrics are full and no more are kept.
   */
  extraLabelSets = 0;

  constructor(
    registry: Registry,
    options: ResolvedHttpOptions,
    readonly guard: CardinalityGuard,
  ) {
    const names = options.metrics;
    const extra = options.labels?.names ?? [];
    this.extraLabelNames = options.labels?.names;
    const factory = new FamilyFactory(registry, guard, DECLARED_BY);
    const on = <T>(name: string | false, create: (name: string) => T): T | undefined =>
      name === false ? undefined : create(name);

    this.requests = on(names.requests, name =>
      factory.counter(name, 'HTTP requests answered, by route template and status code', [
        'method',
        'route',
        'status_code',
        ...extra,
      ]),
    );
    const durationHelp = 'Time from the arrival of an HTTP request to the end of its response, in seconds';
    const durationLabels = ['method', 'route', 'status_code', ...extra];
    if (options.latency === 'summary') {
      this.durationSummary = on(
        names.duration,
        name =>
          findOrCreatePromMetric(
            registry,
            'summary',
            { name, help: durationHelp, labelNames: durationLabels, ...options.summary },
            DECLARED_BY,
          ) as Summary,
      );
    } else {
      this.duration = on(names.duration, name =>
        factory.histogram(name, durationHelp, durationLabels, options.buckets, options.nativeHistograms),
      );
    }
    this.inProgress = on(names.inProgress, name =>
      factory.gauge(name, 'HTTP requests being handled now', ['method', 'route']),
    );
    this.exceptions = on(names.exceptions, name =>
      factory.counter(name, 'HTTP requests that ended in an unhandled error (status >= 500), by error class', [
        'method',
        'route',
        'exception',
        ...extra,
      ]),
    );
    this.requestSize = on(names.requestSize, name =>
      factory.histogram(
        name,
        'Size of HTTP request bodies (Content-Length), in bytes',
        ['method', 'route', ...extra],
        options.sizeBuckets,
      ),
    );
    this.responseSize = on(names.responseSize, name =>
      factory.histogram(
        name,
        'Size of HTTP response bodies (Content-Length), in bytes',
        ['method', 'route', ...extra],
        options.sizeBuckets,
      ),
    );
  }
}
