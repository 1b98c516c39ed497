import { type DynamicModule, Module, type NestModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { createMetricsController, routeMetricsController } from './endpoint/metrics.controller.js';
import { HttpMetricsInterceptor } from './http/http-metrics.interceptor.js';
import { HttpMetricsService } from './http/http-metrics.service.js';
import { getMetricToken } from './decorators/inject-metric.decorator.js';
import { declaredMetrics } from './decorators/metric-declarations.js';
import type { CounterDecoratorOptions, MetricProviderDefinition } from './interfaces/index.js';
import { MethodMetricsExplorer } from './method-metrics/method-metrics.explorer.js';
import { makeMetricProviders } from './metric.providers.js';
import { ensurePromMetric } from './metrics/prom-metrics.js';
import { PrometheusFeatureModule } from './prometheus-feature.module.js';
import { DEFAULT_METRICS_PATH, PROMETHEUS_OPTIONS } from './prometheus.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  PROMETHEUS_MODULE_OPTIONS,
} from './prometheus.module-definition.js';
import { resolvePrometheusOptions, type ResolvedPrometheusOptions } from './prometheus-options.js';
import { PrometheusService } from './prometheus.service.js';

const METRICS_ROUTE = Symbol('METRICS_ROUTE');

/**
 * `PrometheusModule.forRoot()` in the AppModule: default HTTP metrics on every route, prom-client's
 * process metrics, and the registry served at `/metrics`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: PROMETHEUS_OPTIONS, useFactory: resolvePrometheusOptions, inject: [PROMETHEUS_MODULE_OPTIONS] },
    PrometheusService,
    HttpMetricsService,
    MethodMetricsExplorer,
    { provide: APP_INTERCEPTOR, useClass: HttpMetricsInterceptor },
  ],
  exports: [PrometheusService],
})
export class PrometheusModule extends ConfigurableModuleClass implements NestModule {
  constructor(private readonly explorer: MethodMetricsExplorer) {
    super();
  }

  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return withDeclaredMetrics(withEndpoint(super.forRoot(options), options.path !== false));
  }

  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    // Whether there is an endpoint is only known once the options resolve: always declare it.
    return withDeclaredMetrics(withEndpoint(super.forRootAsync(options), true));
  }

  /** Metrics injectable with `@InjectMetric(name)` in the importing module. */
  static forFeature(definitions: MetricProviderDefinition[]): DynamicModule {
    const providers = makeMetricProviders(definitions);
    return { module: PrometheusFeatureModule, providers, exports: providers };
  }

  /**
   * Runs in `app.init()` after every instance exists and before Nest registers the routes, which
   * capture the handler methods: the moment to instrument decorated controller methods.
   */
  configure(): void {
    this.explorer.explore();
  }
}

/** Makes every metric that a decorator declares injectable by its name. */
function withDeclaredMetrics(module: DynamicModule): DynamicModule {
  const providers: Provider[] = declaredMetrics().map(({ type, options, declaredAt }) => {
    const { labels = {}, on: _on, ...config } = options as CounterDecoratorOptions;
    return {
      provide: getMetricToken(config.name),
      useFactory: (prometheus: PrometheusService) =>
        ensurePromMetric(
          prometheus.registry,
          type,
          { ...config, labelNames: Object.keys(labels) },
          `@${type[0].toUpperCase()}${type.slice(1)} on ${declaredAt ?? 'an undecorated target'}`,
        ),
      inject: [PrometheusService],
    };
  });
  return {
    ...module,
    providers: [...(module.providers ?? []), ...providers],
    exports: [...(module.exports ?? []), ...providers.map(p => (p as { provide: string }).provide)],
  };
}

function withEndpoint(module: DynamicModule, endpoint: boolean): DynamicModule {
  if (!endpoint) return module;
  const controller = createMetricsController();
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
