import {
  type DynamicModule,
  Module,
  type NestModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  type Provider,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { Pushgateway } from 'prom-client';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { CardinalityGuard } from './core/cardinality-guard.js';
import { ClusterWorker } from './cluster/cluster-worker.js';
import { identifiedByDefinitions } from './compat/dynamic-module.js';
import { PrometheusMetricsServer } from './endpoint/metrics-server.js';
import { ScrapeHandler } from './endpoint/scrape-handler.js';
import { HttpClientMetricsService } from './http-client/http-client-metrics.service.js';
import { TransportMetricsExplorer } from './transports/transport-metrics.explorer.js';
import { PushgatewayService } from './pushgateway/pushgateway.service.js';
import {
  createMetricsController,
  type MetricsController,
  routeMetricsController,
} from './endpoint/metrics.controller.js';
import { prepareUserController, routeUserController } from './endpoint/prometheus.controller.js';
import { ModulePushgateway } from './pushgateway/prom-client-pushgateway.js';
import { exceptionObserver } from './http/exception-spy.js';
import { HttpMetricsService } from './http/http-metrics.service.js';
import { getMetricToken } from './decorators/inject-metric.decorator.js';
import { declaredMetricNames } from './decorators/metric-declarations.js';
import type { MetricProviderDefinition } from './interfaces/index.js';
import { MethodMetricsExplorer } from './methods/method-metrics.explorer.js';
import { makeMetricProviders } from './metric.providers.js';
import { PrometheusFeatureModule } from './prometheus-feature.module.js';
import { DEFAULT_METRICS_PATH } from './core/core.constants.js';
import { METRICS_SERVER_ROUTES, PROMETHEUS_OPTIONS } from './runtime/runtime.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  PROMETHEUS_MODULE_OPTIONS,
  type PrometheusModuleExtras,
} from './prometheus.module-definition.js';
import type { ResolvedPrometheusOptions } from './interfaces/resolved-options.interface.js';
import { resolveEnabledOptions } from './prometheus-options.js';
import { servesOnAppPort } from './endpoint/endpoint.options.js';
import { EXPOSITION_SOURCE, RegistryExposition } from './core/exposition/exposition-source.js';
import { PrometheusRuntime } from './runtime/prometheus-runtime.js';
import { PrometheusService } from './runtime/prometheus.service.js';
import { NO_STATUS_PEERS, STATUS_SOURCE } from './runtime/status-source.js';
import {
  classGuardsOf,
  createStatusPageControllers,
  routeStatusPageControllers,
} from './status-page/status-page.controller.js';
import { StatusPageService } from './status-page/status-page.service.js';

const METRICS_ROUTE = Symbol('METRICS_ROUTE');
const STATUS_PAGE_ROUTE = Symbol('STATUS_PAGE_ROUTE');

/**
 * `PrometheusModule.forRoot()` in the AppModule: default HTTP metrics on every route, prom-client's
 * process metrics, and the registry served at `/metrics`.
 *
 * @example
 * ```ts
 * @Module({ imports: [PrometheusModule.forRoot()] })
 * export class AppModule {}
 * ```
 * @public
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: PROMETHEUS_OPTIONS, useFactory: resolveEnabledOptions, inject: [PROMETHEUS_MODULE_OPTIONS] },
    PrometheusService,
    PrometheusRuntime,
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
    {
      // In a cluster worker, scrapes serve the cluster's aggregate; otherwise this process's registry.
      provide: EXPOSITION_SOURCE,
      useFactory: (options: ResolvedPrometheusOptions, worker: ClusterWorker, prometheus: PrometheusService) =>
        options.cluster ? worker : new RegistryExposition(prometheus.registry),
      inject: [PROMETHEUS_OPTIONS, ClusterWorker, PrometheusService],
    },
    {
      // In a cluster worker, the status page merges every worker's numbers; otherwise its own.
      provide: STATUS_SOURCE,
      useFactory: (options: ResolvedPrometheusOptions, worker: ClusterWorker) =>
        options.cluster && options.statusPage !== false ? worker : NO_STATUS_PEERS,
      inject: [PROMETHEUS_OPTIONS, ClusterWorker],
    },
    ScrapeHandler,
    PrometheusMetricsServer,
    PushgatewayService,
    HttpClientMetricsService,
    TransportMetricsExplorer,
    StatusPageService,
    // The status page on the metrics server of `port` (the endpoint feature knows it only by this token).
    {
      provide: METRICS_SERVER_ROUTES,
      useFactory: (page: StatusPageService) => page.serveOnMetricsServer,
      inject: [StatusPageService],
    },
    {
      // As @willsoto/nestjs-prometheus provides it (null without `pushgateway`), pushing through ours.
      provide: Pushgateway,
      useFactory: (options: ResolvedPrometheusOptions, pushes: PushgatewayService, prometheus: PrometheusService) =>
        options.pushgateway
          ? new ModulePushgateway(pushes, options.pushgateway.url, options.pushgateway.registry ?? prometheus.registry)
          : null,
      inject: [PROMETHEUS_OPTIONS, PushgatewayService, PrometheusService],
    },
    // Sees exceptions of middleware and of the not-found handler (never catches: see exception-spy).
    { provide: APP_FILTER, useValue: exceptionObserver },
  ],
  // PROMETHEUS_OPTIONS: make*Provider() metrics in importing modules take the registry and prefix.
  exports: [PrometheusService, PushgatewayService, PrometheusMetricsServer, Pushgateway, PROMETHEUS_OPTIONS],
})
export class PrometheusModule
  extends ConfigurableModuleClass
  implements NestModule, OnModuleInit, OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown
{
  /** @internal Nest creates the module. */
  constructor(private readonly runtime: PrometheusRuntime) {
    super();
  }

  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    assertGuardsCoverEndpoints(options, options.enabled !== false && options.port !== undefined);
    const endpoint = servesOnAppPort(options);
    const statusPage = endpoint && options.statusPage !== undefined && options.statusPage !== false;
    return withDeclaredMetrics(
      withStatusPage(withEndpoint(super.forRoot(options), endpoint, options), statusPage, options),
    );
  }

  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    assertAsyncOptions(options, 'forRootAsync');
    // Whether there is an endpoint is only known once the options resolve: always declare it.
    return withDeclaredMetrics(withStatusPage(withEndpoint(super.forRootAsync(options), true, options), true, options));
  }

  /**
   * `@willsoto/nestjs-prometheus`'s name of {@link PrometheusModule.forRoot}, with its default:
   * not global unless `global: true`. Takes every `forRoot()` option too.
   *
   * @example
   * ```ts
   * PrometheusModule.register({ path: '/mymetrics', defaultLabels: { app: 'shop' }, customMetricPrefix: 'shop' });
   * ```
   */
  static register(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return PrometheusModule.forRoot({ ...options, isGlobal: options?.isGlobal ?? options?.global ?? false });
  }

  /**
   * `@willsoto/nestjs-prometheus`'s name of {@link PrometheusModule.forRootAsync}, with its default:
   * not global unless `global: true`.
   *
   * @example
   * ```ts
   * PrometheusModule.registerAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ path: config.get('METRICS_PATH') }),
   * });
   * ```
   */
  static registerAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    assertAsyncOptions(options, 'registerAsync');
    return PrometheusModule.forRootAsync({ ...options, isGlobal: options.isGlobal ?? options.global ?? false });
  }

  /**
   * The options providers of `forRootAsync()`: Nest's, after the same check as `forRootAsync()`.
   * Public in `@willsoto/nestjs-prometheus`, where `{}` throws "Invalid configuration".
   *
   * @example
   * ```ts
   * PrometheusModule.createAsyncProviders({ useFactory: () => ({ path: '/m' }) });
   * ```
   */
  static createAsyncProviders(options: typeof ASYNC_OPTIONS_TYPE): Provider[] {
    assertAsyncOptions(options, 'createAsyncProviders');
    return nestAsyncStatics().createAsyncProviders.call(this, options);
  }

  /**
   * The provider of the options of `forRootAsync()`: Nest's, after the same check.
   *
   * @example
   * ```ts
   * PrometheusModule.createAsyncOptionsProvider({ useFactory: () => ({ path: '/m' }) });
   * ```
   */
  static createAsyncOptionsProvider(options: typeof ASYNC_OPTIONS_TYPE): Provider {
    assertAsyncOptions(options, 'createAsyncOptionsProvider');
    return nestAsyncStatics().createAsyncOptionsProvider.call(this, options);
  }

  /** Metrics injectable with `@InjectMetric(name)` in the importing module. */
  static forFeature(definitions: MetricProviderDefinition[]): DynamicModule {
    const providers = makeMetricProviders(definitions);
    return identifiedByDefinitions({ module: PrometheusFeatureModule, providers, exports: providers }, definitions);
  }

  /**
   * The bootstrap moments of the app, run by its runtime (see `PrometheusRuntime`): the features
   * registered their steps when Nest created them. `configure()` runs in `app.init()` after every
   * instance exists and before Nest registers the routes, which capture the handler methods.
   */
  configure(): Promise<void> {
    return this.runtime.run('beforeRoutes');
  }

  /** Nest calls it when the routes are registered: runs the `afterRoutes` steps of the app's features. */
  onModuleInit(): Promise<void> {
    return this.runtime.run('afterRoutes');
  }

  /** Nest calls it when the app is initialised: runs the `bootstrap` steps of the app's features. */
  onApplicationBootstrap(): Promise<void> {
    return this.runtime.run('bootstrap');
  }

  /** Nest calls it when `app.close()` begins: runs the `destroy` steps of the app's features. */
  onModuleDestroy(): Promise<void> {
    return this.runtime.run('destroy');
  }

  /** Nest calls it when `app.close()`: runs the `shutdown` steps of the app's features. */
  onApplicationShutdown(): Promise<void> {
    return this.runtime.run('shutdown');
  }
}

/**
 * Makes every metric that a decorator of the app declares injectable by its name. Decorators
 * declare their metrics when their class is defined, which may be after `forRoot()` runs (a module
 * imported after the one that calls it): the providers are listed when Nest reads the module, in
 * `NestFactory.create()`, once every file of the app has been imported.
 */
function withDeclaredMetrics(module: DynamicModule): DynamicModule {
  const providers = module.providers ?? [];
  const exports = module.exports ?? [];
  let names: string[] = [];
  let declared: Provider[] = [];
  const current = (): Provider[] => {
    const now = declaredMetricNames();
    if (now.length !== names.length || now.some((n, i) => n !== names[i])) {
      names = now;
      declared = now.map(name => ({
        provide: getMetricToken(name),
        useFactory: (explorer: MethodMetricsExplorer) => explorer.declaredMetric(name),
        inject: [MethodMetricsExplorer],
      }));
    }
    return declared;
  };
  return Object.defineProperties(
    { ...module },
    {
      providers: { enumerable: true, configurable: true, get: () => [...providers, ...current()] },
      exports: {
        enumerable: true,
        configurable: true,
        get: () => [...exports, ...current().map(p => (p as { provide: string }).provide)],
      },
    },
  );
}

/** Statics of Nest's configurable module class that its typings leave out. */
function nestAsyncStatics(): {
  createAsyncProviders(this: unknown, options: typeof ASYNC_OPTIONS_TYPE): Provider[];
  createAsyncOptionsProvider(this: unknown, options: typeof ASYNC_OPTIONS_TYPE): Provider;
} {
  return ConfigurableModuleClass as unknown as ReturnType<typeof nestAsyncStatics>;
}

/** Nest's own error for `forRootAsync({})` names an internal token; this one names what is missing. */
function assertAsyncOptions(options: typeof ASYNC_OPTIONS_TYPE, method: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`PrometheusModule.${method}() needs an options object with useFactory, useClass or useExisting`);
  }
  if (!options.useFactory && !options.useClass && !options.useExisting) {
    // The first sentence is @willsoto/nestjs-prometheus's, for code and tests that look for it.
    throw new Error(
      `PrometheusModule.${method}(): Invalid configuration. Must provide useClass or useExisting (or useFactory) ` +
        `to give the options, and none was given; with options known up front, use ` +
        `${method === 'registerAsync' ? 'register' : 'forRoot'}() instead`,
    );
  }
  if (options.useFactory !== undefined && typeof options.useFactory !== 'function') {
    throw new Error(`PrometheusModule.${method}(): useFactory must be a function`);
  }
}

/**
 * Guards are Nest guards: they run on the application's port only. The metrics server of `port`
 * is a bare `node:http` server with no Nest context around a request, so there they would be
 * skipped in silence and every sample served to anyone who can reach it: refuse that instead.
 */
function assertGuardsCoverEndpoints(extras: PrometheusModuleExtras, metricsPort: boolean): void {
  if (!metricsPort || !extras.guards?.length) return;
  throw new Error(
    'PrometheusModule: guards protect the metrics endpoint on the application\'s port only, and "port" serves ' +
      'the metrics on a server of its own that they would not protect. Either drop "port" and serve the guarded ' +
      'endpoint on the application\'s port, or drop "guards" and keep the metrics port private: it listens on ' +
      '127.0.0.1 unless "host" says otherwise, so only a network you control (a sidecar, a NetworkPolicy) reaches it.',
  );
}

function withEndpoint(module: DynamicModule, endpoint: boolean, extras: PrometheusModuleExtras): DynamicModule {
  if (!endpoint) return module;
  const own = extras.controller === undefined;
  if (!own && typeof extras.controller !== 'function') {
    throw new Error('PrometheusModule options.controller must be a controller class');
  }
  const controller: Type<unknown> = extras.controller ?? createMetricsController();
  if (!own) prepareUserController(controller);
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
        useFactory: (options: ResolvedPrometheusOptions) => {
          // forRootAsync: the port is only known now.
          assertGuardsCoverEndpoints(extras, options.server !== undefined);
          const path = options.path === false ? DEFAULT_METRICS_PATH : options.path;
          if (own) routeMetricsController(controller as Type<MetricsController>, path);
          else routeUserController(controller, path);
        },
        inject: [PROMETHEUS_OPTIONS],
      },
    ],
  };
}

/**
 * The status page's controllers, on the app's port beside the metrics endpoint and with its
 * protection: the same guards and endpoint decorators (and a user controller's class guards).
 */
function withStatusPage(module: DynamicModule, statusPage: boolean, extras: PrometheusModuleExtras): DynamicModule {
  if (!statusPage) return module;
  const controllers = createStatusPageControllers();
  const guards = [...(extras.guards ?? []), ...(extras.controller ? classGuardsOf(extras.controller) : [])];
  for (const controller of controllers) {
    if (guards.length) UseGuards(...(guards as Parameters<typeof UseGuards>))(controller);
    for (const decorate of extras.endpointDecorators ?? []) decorate(controller);
  }
  return {
    ...module,
    controllers: [...(module.controllers ?? []), ...controllers],
    providers: [
      ...(module.providers ?? []),
      {
        provide: STATUS_PAGE_ROUTE,
        // forRootAsync: the page's path (or whether it is on: off answers 404) is only known now.
        useFactory: (options: ResolvedPrometheusOptions) =>
          routeStatusPageControllers(
            controllers,
            options.statusPage === false ? `${DEFAULT_METRICS_PATH}/status` : options.statusPage.path,
          ),
        inject: [PROMETHEUS_OPTIONS],
      },
    ],
  };
}
