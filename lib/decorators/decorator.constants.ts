/** Metadata set by `@DoNotTrack()` on a controller class or a handler method. */
export const DO_NOT_TRACK_METADATA = 'nestjs-prom-metrics:do-not-track';

/** Metric decorators (`@Counter`, ...) stored on a method or a controller class. */
export const METRIC_DECORATORS_METADATA = 'nestjs-prom-metrics:metric-decorators';
