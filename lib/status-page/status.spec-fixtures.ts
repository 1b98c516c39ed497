// Test fixtures shared by the status page's unit specs (excluded from the build, as specs are).
import type { MetricsSnapshot, RequestFamily } from './status-history.js';

export const BOUNDS = [0.1, 0.5, 1];
export const HTTP: RequestFamily = {
  section: 'http',
  requests: 'http_requests_total',
  duration: 'http_request_duration_seconds',
  bounds: BOUNDS,
  inProgress: 'http_requests_in_progress',
  exceptions: 'http_exceptions_total',
  keyLabels: ['method', 'route'],
  classLabel: 'status_code',
};
export const SOURCES = {
  families: [HTTP],
  eventLoopLag: 'nodejs_eventloop_lag_p99_seconds',
  overflowMetric: 'prometheus_series_overflow_total',
  maxSeriesPerMetric: 100,
};

export interface Traffic {
  route: string;
  status: number;
  /** Observations per bucket: ≤0.1, ≤0.5, ≤1, +Inf. */
  perBucket: [number, number, number, number];
  exception?: [string, number];
  inFlight?: number;
}

/** What one process's `getMetricsAsJSON()` gives for its traffic (cumulative since start). */
export function metrics(traffic: Traffic[], lag = 0.01): MetricsSnapshot {
  const requests = traffic.map(t => ({
    labels: { method: 'GET', route: t.route, status_code: t.status },
    value: t.perBucket.reduce((a, b) => a + b, 0),
  }));
  const buckets = traffic.flatMap(t => {
    let cumulative = 0;
    return [...BOUNDS, '+Inf'].map((le, i) => ({
      labels: { method: 'GET', route: t.route, status_code: t.status, le },
      value: (cumulative += t.perBucket[i]),
      metricName: 'http_request_duration_seconds_bucket',
    }));
  });
  const count = traffic.map(t => ({
    labels: { method: 'GET', route: t.route, status_code: t.status },
    value: t.perBucket.reduce((a, b) => a + b, 0),
    metricName: 'http_request_duration_seconds_count',
  }));
  const exceptions = traffic.flatMap(t =>
    t.exception
      ? [{ labels: { method: 'GET', route: t.route, exception: t.exception[0] }, value: t.exception[1] }]
      : [],
  );
  const inProgress = traffic.map(t => ({ labels: { method: 'GET', route: t.route }, value: t.inFlight ?? 0 }));
  return [
    { name: 'http_requests_total', help: '', type: 'counter', aggregator: 'sum', values: requests },
    {
      name: 'http_request_duration_seconds',
      help: '',
      type: 'histogram',
      aggregator: 'sum',
      values: [...buckets, ...count],
    },
    { name: 'http_exceptions_total', help: '', type: 'counter', aggregator: 'sum', values: exceptions },
    { name: 'http_requests_in_progress', help: '', type: 'gauge', aggregator: 'sum', values: inProgress },
    {
      name: 'nodejs_eventloop_lag_p99_seconds',
      help: '',
      type: 'gauge',
      aggregator: 'average',
      values: [{ labels: {}, value: lag }],
    },
  ] as unknown as MetricsSnapshot;
}
