export {
  getHistogram,
  getMetricValue,
  type HistogramValue,
  type MetricsSource,
  resetMetrics,
} from './metric-values.js';
