import type { Registry, Summary } from 'prom-client';
import type { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { ensureMetric, type MetricDefinition } from '../metrics/metric-registrar.js';
import { ensurePromMetric } from '../metrics/prom-metrics.js';
import { SeriesCounter } from '../metrics/series-counter.js';
import { SeriesGauge } from '../metrics/series-gauge.js';
import { SeriesHistogram } from '../metrics/series-histogram.js';
import type { ResolvedHttpOptions } from '../prometheus-options.js';

const DECLARED_BY = 'PrometheusModule (default HTTP metrics)';

/** The default HTTP metric families, registered once per registry; each may be switched off. */
export class HttpMetrics {
  readonly requests?: SeriesCounter;
  /** A histogram, or a prom-client summary with `latency: 'summary'`. */
  readonly duration?: SeriesHistogram;
  readonly durationSummary?: Summary<string>;
  readonly inProgress?: SeriesGauge;
  readonly exceptions?: SeriesCounter;
  readonly requestSize?: SeriesHistogram;
  readonly responseSize?: SeriesHistogram;
  /** Names of the extra `http.labels`, in the order their values are given. */
  readonly extraLabelNames?: readonly string[];

  constructor(
    registry: Registry,
    options: ResolvedHttpOptions,
    readonly guard: CardinalityGuard,
  ) {
    const names = options.metrics;
    const extra = options.labels?.names ?? [];
    this.extraLabelNames = options.labels?.names;
    const counter = (name: string | false, help: string, labelNames: string[]) =>
      name === false
        ? undefined
        : ensureMetric(
            registry,
            def('counter', name, help, labelNames),
            SeriesCounter,
            () => new SeriesCounter(name, help, labelNames),
          );
    const histogram = (name: string | false, help: string, labelNames: string[], buckets: readonly number[]) =>
      name === false
        ? undefined
        : ensureMetric(
            registry,
            def('histogram', name, help, labelNames, buckets),
            SeriesHistogram,
            () => new SeriesHistogram(name, help, labelNames, buckets),
          );

    this.requests = counter(names.requests, 'HTTP requests answered, by route template and status code', [
      'method',
      'route',
      'status_code',
      ...extra,
    ]);
    const durationHelp = 'Time from the arrival of an HTTP request to the end of its response, in seconds';
    if (options.latency === 'summary') {
      if (names.duration !== false) {
        this.durationSummary = ensurePromMetric(
          registry,
          'summary',
          {
            name: names.duration,
            help: durationHelp,
            labelNames: ['method', 'route', 'status_code', ...extra],
            percentiles: options.summary.percentiles,
            maxAgeSeconds: options.summary.maxAgeSeconds,
            ageBuckets: options.summary.ageBuckets,
          },
          DECLARED_BY,
        ) as Summary<string>;
      }
    } else {
      this.duration = histogram(
        names.duration,
        durationHelp,
        ['method', 'route', 'status_code', ...extra],
        options.buckets,
      );
    }
    const inProgress = names.inProgress;
    this.inProgress =
      inProgress === false
        ? undefined
        : ensureMetric(
            registry,
            def('gauge', inProgress, 'HTTP requests being handled now', ['method', 'route']),
            SeriesGauge,
            () => new SeriesGauge(inProgress, 'HTTP requests being handled now', ['method', 'route']),
          );
    this.exceptions = counter(
      names.exceptions,
      'HTTP requests that ended in an unhandled error (status >= 500), by error class',
      ['method', 'route', 'exception', ...extra],
    );
    this.requestSize = histogram(
      names.requestSize,
      'Size of HTTP request bodies (Content-Length), in bytes',
      ['method', 'route', ...extra],
      options.sizeBuckets,
    );
    this.responseSize = histogram(
      names.responseSize,
      'Size of HTTP response bodies (Content-Length), in bytes',
      ['method', 'route', ...extra],
      options.sizeBuckets,
    );
    for (const metric of [
      this.requests,
      this.duration,
      this.inProgress,
      this.exceptions,
      this.requestSize,
      this.responseSize,
    ]) {
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
