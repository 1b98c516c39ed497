import type { Registry } from 'prom-client';
import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { ensureMetric, type MetricDefinition } from '../metrics/metric-registrar.js';
import { SeriesCounter } from '../metrics/series-counter.js';
import { SeriesGauge } from '../metrics/series-gauge.js';
import { SeriesHistogram } from '../metrics/series-histogram.js';
import type { ResolvedHttpOptions } from '../prometheus-options.js';

const DECLARED_BY = 'PrometheusModule (default HTTP metrics)';

/** The default HTTP metric families, registered once per registry. */
export class HttpMetrics {
  readonly requests: SeriesCounter;
  readonly duration: SeriesHistogram;
  readonly inProgress: SeriesGauge;
  readonly exceptions: SeriesCounter;
  readonly requestSize?: SeriesHistogram;
  readonly responseSize?: SeriesHistogram;

  constructor(registry: Registry, options: ResolvedHttpOptions, guard: CardinalityGuard) {
    const p = options.prefix;
    const counter = (name: string, help: string, labelNames: string[]) =>
      ensureMetric(registry, def('counter', name, help, labelNames), SeriesCounter, () => new SeriesCounter(name, help, labelNames));
    const histogram = (name: string, help: string, labelNames: string[], buckets: readonly number[]) =>
      ensureMetric(
        registry,
        def('histogram', name, help, labelNames, buckets),
        SeriesHistogram,
        () => new SeriesHistogram(name, help, labelNames, buckets),
      );

    this.requests = counter(`${p}http_requests_total`, 'HTTP requests answered, by route template and status code', [
      'method',
      'route',
      'status_code',
    ]);
    this.duration = histogram(
      `${p}http_request_duration_seconds`,
      'Time from the arrival of an HTTP request to the end of its response, in seconds',
      ['method', 'route', 'status_code'],
      options.buckets,
    );
    this.inProgress = ensureMetric(
      registry,
      def('gauge', `${p}http_requests_in_progress`, 'HTTP requests being handled now', ['method', 'route']),
      SeriesGauge,
      () => new SeriesGauge(`${p}http_requests_in_progress`, 'HTTP requests being handled now', ['method', 'route']),
    );
    this.exceptions = counter(
      `${p}http_exceptions_total`,
      'HTTP requests that ended in an unhandled error (status >= 500), by error class',
      ['method', 'route', 'exception'],
    );
    if (options.requestSizes) {
      this.requestSize = histogram(
        `${p}http_request_size_bytes`,
        'Size of HTTP request bodies (Content-Length), in bytes',
        ['method', 'route'],
        options.sizeBuckets,
      );
      this.responseSize = histogram(
        `${p}http_response_size_bytes`,
        'Size of HTTP response bodies (Content-Length), in bytes',
        ['method', 'route'],
        options.sizeBuckets,
      );
    }
    for (const metric of [this.requests, this.duration, this.inProgress, this.exceptions, this.requestSize, this.responseSize]) {
      metric?.limitBy(guard);
    }
  }
}

function def(
  type: MetricDefinition['type'],
  name: string,
  help: string,
  labelNames: string[],
  buckets?: readonly number[],
): MetricDefinition {
  return { type, name, help, labelNames, buckets, declaredBy: DECLARED_BY };
}
