import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { createMetricsController, routeMetricsController } from './endpoint/metrics.controller.js';
import { HttpMetricsInterceptor } from './http/http-metrics.interceptor.js';
import { HttpMetricsService } from './http/http-metrics.service.js';
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
    { provide: APP_INTERCEPTOR, useClass: HttpMetricsInterceptor },
  ],
  exports: [PrometheusService],
})
export class PrometheusModule extends ConfigurableModuleClass {
  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return withEndpoint(super.forRoot(options), options.path !== false);
  }

  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    // Whether there is an endpoint is only known once the options resolve: always declare it.
    return withEndpoint(super.forRootAsync(options), true);
  }
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
