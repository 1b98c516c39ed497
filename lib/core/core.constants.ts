/** Label value of the series that takes new label sets once a metric reached `maxSeriesPerMetric`. */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

export const DEFAULT_MAX_SERIES_PER_METRIC = 10_000;

export const DEFAULT_MAX_LABEL_VALUE_LENGTH = 128;

/** prom-client's default buckets: 5 ms to 10 s. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** 100 B to 10 MB, one bucket per decade. */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

export const DEFAULT_METRICS_PATH = '/metrics';

/** Interface of the metrics servers (`port`, `PrometheusCluster.setupPrimary({ port })`) unless `host` is given: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
