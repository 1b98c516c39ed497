import { register as globalRegistry } from 'prom-client';
import { resolveClusterOptions } from './cluster/cluster.options.js';
import {
  DEFAULT_MAX_LABEL_VALUE_LENGTH,
  DEFAULT_MAX_SERIES_PER_METRIC,
  DEFAULT_METRICS_PATH,
} from './core/core.constants.js';
import { assertLabelName, assertMetricName } from './core/metric-names.js';
import { warnUnknownKeys, wholeLimit } from './core/option-checks.js';
import { resolveEndpointPath, resolveMaxConcurrentScrapes, resolveMetricsServer } from './endpoint/endpoint.options.js';
import { resolveHttpClientOptions } from './http-client/http-client.options.js';
import { resolveHttpOptions } from './http/http.options.js';
import type { PrometheusModuleOptions } from './interfaces/index.js';
import type { ResolvedPrometheusOptions } from './interfaces/resolved-options.interface.js';
import { resolvePushgatewayOptions } from './pushgateway/pushgateway.options.js';
import { resolveStatusPage } from './status-page/status-page-options.js';
import { resolveTransportOptions } from './transports/transport.options.js';

// The module's options, checked and with defaults merged, so that bad input fails at bootstrap:
// the options of the whole module here, each feature's section by the feature's own resolver.

const WHERE = 'PrometheusModule options';

/** Every option `forRoot()` reads, and those only `register()` or the module definition read. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set<keyof PrometheusModuleOptions | 'global' | 'controller'>([
  'path',
  'registry',
  'defaultLabels',
  'defaultMetrics',
  'http',
  'info',
  'maxSeriesPerMetric',
  'maxLabelValueLength',
  'port',
  'host',
  'pushgateway',
  'cluster',
  'httpClient',
  'rpc',
  'ws',
  'graphql',
  'customMetricPrefix',
  'enabled',
  'statusPage',
]);

/** The one place where defaults are merged and options are checked, so bad input fails at bootstrap. */
export function resolvePrometheusOptions(options: PrometheusModuleOptions = {}): ResolvedPrometheusOptions {
  if (typeof options !== 'object' || options === null) throw new Error(`${WHERE} must be an object`);
  warnUnknownKeys(options, KNOWN_OPTIONS, WHERE, {
    global: 'give it to register()/registerAsync() (or isGlobal to forRoot()/forRootAsync()), not from a factory',
    controller: 'give it to register()/registerAsync(), not from a factory',
    isGlobal: 'give it to forRoot()/forRootAsync(), not from a factory',
  });
  const customMetricPrefix = options.customMetricPrefix;
  if (customMetricPrefix !== undefined && customMetricPrefix !== '') {
    if (typeof customMetricPrefix !== 'string') throw new Error(`${WHERE}.customMetricPrefix must be a string`);
    assertMetricName(`${customMetricPrefix}_x`, `${WHERE}.customMetricPrefix`);
  }
  const server = resolveMetricsServer(options);
  const path = resolveEndpointPath(options, server);
  const defaultLabels = { ...(options.defaultLabels ?? {}) };
  for (const [name, value] of Object.entries(defaultLabels)) {
    assertLabelName(name, `${WHERE}.defaultLabels`);
    // An unset environment variable would otherwise label every series "undefined".
    if (
      value === undefined ||
      value === null ||
      value === '' ||
      (typeof value === 'number' && !Number.isFinite(value))
    ) {
      throw new Error(
        `${WHERE}.defaultLabels.${name}: the value is ${value === '' ? 'empty' : String(value)}; give it a non-empty string (is an environment variable unset?)`,
      );
    }
  }

  if (options.info) for (const name of Object.keys(options.info)) assertLabelName(name, `${WHERE}.info`);

  return {
    info: options.info ? { ...options.info } : undefined,
    path,
    registry: options.registry ?? globalRegistry,
    defaultLabels,
    defaultMetrics: { enabled: options.defaultMetrics?.enabled ?? true, config: options.defaultMetrics?.config },
    http: resolveHttpOptions(options.http),
    maxSeriesPerMetric: wholeLimit(
      options.maxSeriesPerMetric,
      DEFAULT_MAX_SERIES_PER_METRIC,
      `${WHERE}.maxSeriesPerMetric`,
    ),
    maxLabelValueLength: wholeLimit(
      options.maxLabelValueLength,
      DEFAULT_MAX_LABEL_VALUE_LENGTH,
      `${WHERE}.maxLabelValueLength`,
    ),
    server,
    maxConcurrentScrapes: resolveMaxConcurrentScrapes(options.maxConcurrentScrapes),
    pushgateway: options.pushgateway === undefined ? undefined : resolvePushgatewayOptions(options.pushgateway),
    cluster: resolveClusterOptions(options.cluster),
    httpClient: resolveHttpClientOptions(options.httpClient),
    rpc: resolveTransportOptions(options.rpc, 'rpc'),
    ws: resolveTransportOptions(options.ws, 'ws'),
    graphql: resolveTransportOptions(options.graphql, 'graphql'),
    enabled: true,
    customMetricPrefix: customMetricPrefix || undefined,
    // Under the path the metrics are served at: the app's, or the metrics port's.
    statusPage: resolveStatusPage(
      options.statusPage,
      path === false ? (server?.path ?? DEFAULT_METRICS_PATH) : path,
      WHERE,
      path !== false || server !== undefined,
    ),
  };
}

/** `enabled: false`: checked like any options, then everything is off. */
export function resolveEnabledOptions(options: PrometheusModuleOptions = {}): ResolvedPrometheusOptions {
  const resolved = resolvePrometheusOptions(options);
  if (options.enabled === undefined || options.enabled === true) return resolved;
  if (options.enabled !== false) throw new Error(`${WHERE}.enabled must be a boolean`);
  return {
    ...resolved,
    enabled: false,
    path: false,
    // Nothing written to the registry either: no overflow counter, no default labels.
    maxSeriesPerMetric: Infinity,
    defaultLabels: {},
    http: false,
    defaultMetrics: { enabled: false },
    info: undefined,
    server: undefined,
    pushgateway: undefined,
    cluster: false,
    httpClient: false,
    rpc: false,
    ws: false,
    graphql: false,
    statusPage: false,
  };
}
