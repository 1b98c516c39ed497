export * from './interfaces/index.js';
export { DoNotTrack } from './decorators/do-not-track.decorator.js';
export { PrometheusModule } from './prometheus.module.js';
export { PROMETHEUS_MODULE_OPTIONS } from './prometheus.module-definition.js';
export { PrometheusService, type RenderedMetrics } from './prometheus.service.js';
export { UNMATCHED_ROUTE } from './prometheus.constants.js';
