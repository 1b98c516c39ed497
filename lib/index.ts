export * from './interfaces/index.js';
export { type ClusterPrimaryOptions, PrometheusCluster } from './cluster/prometheus-cluster.js';
export { Counter } from './decorators/counter.decorator.js';
export { DoNotTrack } from './decorators/do-not-track.decorator.js';
export { Gauge } from './decorators/gauge.decorator.js';
export { Histogram } from './decorators/histogram.decorator.js';
export { getMetricToken, getToken, InjectMetric } from './decorators/inject-metric.decorator.js';
export { Summary } from './decorators/summary.decorator.js';
export {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
  type MetricProviderInject,
  type MetricProviderInjectable,
} from './metric.providers.js';
export { PrometheusController } from './endpoint/prometheus.controller.js';
export { ModulePushgateway } from './pushgateway/prom-client-pushgateway.js';
export type {
  PrometheusAsyncOptions,
  PrometheusDefaultMetrics,
  PrometheusOptions,
  PrometheusOptionsFactory,
} from './willsoto-compat.js';
export { PrometheusMetricsServer } from './endpoint/metrics-server.js';
export { type PushOptions, PushgatewayService } from './pushgateway/pushgateway.service.js';
export { PrometheusFeatureModule } from './prometheus-feature.module.js';
export { PrometheusModule } from './prometheus.module.js';
export { PROMETHEUS_MODULE_OPTIONS, type PrometheusModuleExtras } from './prometheus.module-definition.js';
export type { RenderedMetrics } from './core/exposition/render-metrics.js';
export { PrometheusService } from './runtime/prometheus.service.js';
export { PROMETHEUS_OPTIONS } from './runtime/runtime.constants.js';
export { UNMATCHED_ROUTE } from './http/http.constants.js';
