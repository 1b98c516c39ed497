import type { Registry, Summary } from 'prom-client';
import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { MetricFactory } from '../metrics/metric-factory.js';
import { ensurePromMetric } from '../metrics/prom-metrics.js';
import type { SeriesCounter } from '../metrics/series-counter.js';
import type { SeriesGauge } from '../metrics/series-gauge.js';
import type { SeriesHistogram } from '../metrics/series-histogram.js';
import type { ResolvedHttpOptions } from '../prometheus-options.js';

const DECLARED_BY = 'PrometheusModule (default HTTP metrics)';

/** The default HTTP metric families, registered once per registry; each may be switched off. */
export class HttpMetrics {
  readonly requests?: SeriesCounter;
  /** A histogram, or a prom-client summary with `latency: 'summary'`. */
  readonly duration?: SeriesHistogram;
  readonly durationSummary?: Summary;
  readonly inProgress?: SeriesGauge;
  readonly exceptions?: SeriesCounter;
  readonly requestSize?: SeriesHistogram;
  readonly responseSize?: SeriesHistogram;
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
    const factory = new MetricFactory(registry, guard, DECLARED_BY);
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
          ensurePromMetric(
            registry,
            'summary',
            { name, help: durationHelp, labelNames: durationLabels, ...options.summary },
            DECLARED_BY,
          ) as Summary,
      );
    } else {
      this.duration = on(names.duration, name =>
        factory.histogram(name, durationHelp, durationLabels, options.buckets),
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
