import { type DynamicModule, Module, type NestModule, type Provider, UseGuards } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { CardinalityGuard } from './cardinality/cardinality-guard.js';
import { ClusterWorker } from './cluster/cluster-worker.js';
import { identifiedByDefinitions } from './compat/dynamic-module.js';
import { PrometheusMetricsServer } from './endpoint/metrics-server.js';
import { ScrapeHandler } from './endpoint/scrape-handler.js';
import { HttpClientMetricsService } from './http-client/http-client-metrics.service.js';
import { TransportMetricsExplorer } from './transports/transport-metrics.explorer.js';
import { PushgatewayService } from './pushgateway/pushgateway.service.js';
import { createMetricsController, routeMetricsController } from './endpoint/metrics.controller.js';
import { exceptionObserver } from './http/exception-spy.js';
import { HttpMetricsService } from './http/http-metrics.service.js';
import { getMetricToken } from './decorators/inject-metric.decorator.js';
import { declaredMetricNames } from './decorators/metric-declarations.js';
import type { MetricProviderDefinition } from './interfaces/index.js';
import { MethodMetricsExplorer } from './method-metrics/method-metrics.explorer.js';
import { makeMetricProviders } from './metric.providers.js';
import { PrometheusFeatureModule } from './prometheus-feature.module.js';
import { DEFAULT_METRICS_PATH, PROMETHEUS_OPTIONS } from './prometheus.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  PROMETHEUS_MODULE_OPTIONS,
  type PrometheusModuleExtras,
} from './prometheus.module-definition.js';
import { resolveEnabledOptions, type ResolvedPrometheusOptions } from './prometheus-options.js';
import { PrometheusService } from './prometheus.service.js';

const METRICS_ROUTE = Symbol('METRICS_ROUTE');

/**
 * `PrometheusModule.forRoot()` in the AppModule: default HTTP metrics on every route, prom-client's
 * process metrics, and the registry served at `/metrics`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: PROMETHEUS_OPTIONS, useFactory: resolveEnabledOptions, inject: [PROMETHEUS_MODULE_OPTIONS] },
    PrometheusService,
    {
      provide: CardinalityGuard,
      useFactory: (options: ResolvedPrometheusOptions, prometheus: PrometheusService) =>
        new CardinalityGuard(prometheus.registry, {
          maxSeries: options.maxSeriesPerMetric,
          maxLabelValueLength: options.maxLabelValueLength,
        }),
      inject: [PROMETHEUS_OPTIONS, PrometheusService],
    },
    HttpMetricsService,
    MethodMetricsExplorer,
    ClusterWorker,
    ScrapeHandler,
    PrometheusMetricsServer,
    PushgatewayService,
    HttpClientMetricsService,
    TransportMetricsExplorer,
    // Sees exceptions of middleware and of the not-found handler (never catches: see exception-spy).
    { provide: APP_FILTER, useValue: exceptionObserver },
  ],
  exports: [PrometheusService, PushgatewayService, PrometheusMetricsServer],
})
export class PrometheusModule extends ConfigurableModuleClass implements NestModule {
  constructor(
    private readonly http: HttpMetricsService,
    private readonly explorer: MethodMetricsExplorer,
  ) {
    super();
  }

  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    // With a port of its own, the app serves the metrics too only if a path is given.
    const endpoint =
      options.enabled !== false && options.path !== false && (options.port === undefined || options.path !== undefined);
    return withDeclaredMetrics(withEndpoint(super.forRoot(options), endpoint, options));
  }

  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    // Whether there is an endpoint is only known once the options resolve: always declare it.
    return withDeclaredMetrics(withEndpoint(super.forRootAsync(options), true, options));
  }

  /** Metrics injectable with `@InjectMetric(name)` in the importing module. */
  static forFeature(definitions: MetricProviderDefinition[]): DynamicModule {
    const providers = makeMetricProviders(definitions);
    return identifiedByDefinitions({ module: PrometheusFeatureModule, providers, exports: providers }, definitions);
  }

  /**
   * Runs in `app.init()` after every instance exists and before Nest registers the routes, which
   * capture the handler methods: the moment to instrument decorated controller methods.
   */
  configure(): void {
    this.http.prepare();
    this.explorer.explore();
  }
}

/** Makes every metric that a decorator of the app declares injectable by its name. */
function withDeclaredMetrics(module: DynamicModule): DynamicModule {
  const providers: Provider[] = declaredMetricNames().map(name => ({
    provide: getMetricToken(name),
    useFactory: (explorer: MethodMetricsExplorer) => explorer.declaredMetric(name),
    inject: [MethodMetricsExplorer],
  }));
  return {
    ...module,
    providers: [...(module.providers ?? []), ...providers],
    exports: [...(module.exports ?? []), ...providers.map(p => (p as { provide: string }).provide)],
  };
}

function withEndpoint(module: DynamicModule, endpoint: boolean, extras: PrometheusModuleExtras): DynamicModule {
  if (!endpoint) return module;
  const controller = createMetricsController();
  // Applied now, while Nest has yet to scan the module: it instantiates guard classes it finds then.
  if (extras.guards?.length) UseGuards(...extras.guards)(controller);
  for (const decorate of extras.endpointDecorators ?? []) decorate(controller);
  return {
    ...module,
    controllers: [...(module.controllers ?? []), controller],
    providers: [
      ...(module.providers ?? []),
      {
        // Providers are created before Nest registers routes, so the path can come from options.
        provide: METRICS_ROUTE,
        useFactory: (options: ResolvedPrometheusOptions) =>
          routeMetricsController(controller, options.path === false ? DEFAULT_METRICS_PATH : options.path),
        inject: [PROMETHEUS_OPTIONS],
      },
    ],
  };
}
