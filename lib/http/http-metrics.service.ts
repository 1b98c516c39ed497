import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import {
  DiscoveryService,
  HttpAdapterHost,
  MetadataScanner,
  ModuleRef,
  ModulesContainer,
  Reflector,
} from '@nestjs/core';
import { CardinalityGuard } from '../cardinality/cardinality-guard.js';
import { observeAdapterReplies, probeFilterSelection } from '../compat/exception-layer.js';
import { METHOD_METADATA } from '../compat/nest-constants.js';
import { CompatReport } from '../compat/self-check.js';
import { TransportMetricsExplorer } from '../transports/transport-metrics.explorer.js';
import { GRAPHQL_MODULE_OPTIONS } from '../transports/transport.constants.js';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions } from '../prometheus-options.js';
import { type ExpressAdapterLike, ExpressInstrumentation } from './express-instrumentation.js';
import { type FastifyAdapterLike, FastifyInstrumentation } from './fastify-instrumentation.js';
import { HttpMetrics } from './http-metrics.js';
import { HttpMetricsRecorder, type ResponseLike } from './http-metrics.recorder.js';
import { observeExceptionFilters } from './exception-filters.js';
import { exceptionObserver, takeObservedException } from './exception-spy.js';
import { prepareRoutes } from './prepare-routes.js';

interface ObservedAdapter {
  getType(): string;
  isHeadersSent(response: ResponseLike): boolean;
  reply(response: ResponseLike, body: unknown, statusCode?: number): unknown;
}

/**
 * Registers the default HTTP metrics and hooks them into the app's HTTP adapter. Nothing runs per
 * request but the adapter hooks: no interceptor, so Nest keeps its RxJS-free fast path.
 */
@Injectable()
export class HttpMetricsService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('PrometheusModule');
  private express?: ExpressInstrumentation;
  private fastify?: FastifyInstrumentation;
  /** Contact points that failed the bootstrap self-check (lib/compat/self-check.ts). */
  private report?: CompatReport;
  /** Controller routes found at bootstrap, which the Express router must hold. */
  private controllerRoutes = 0;
  private prepared = false;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly modules: ModulesContainer,
    private readonly moduleRef: ModuleRef,
    private readonly cardinality: CardinalityGuard,
    private readonly transports: TransportMetricsExplorer,
  ) {}

  /** In `app.init()`, after every instance exists and before Nest registers the routes. */
  prepare(): void {
    if (this.prepared) return;
    this.prepared = true;
    const http = this.options.http;
    const adapter = this.adapterHost.httpAdapter as unknown as ObservedAdapter | undefined;
    if (http === false || !adapter) return;
    const type = adapter.getType();
    if (type !== 'express' && type !== 'fastify') {
      this.logger.warn(`HTTP adapter "${type}" is not supported: default HTTP metrics are off`);
      return;
    }
    const report = (this.report = new CompatReport(this.logger, type));
    const filterHolders = prepareRoutes(this.discovery, this.scanner, this.reflector);
    this.controllerRoutes = filterHolders.filter(h => Reflect.getMetadata(METHOD_METADATA, h) !== undefined).length;
    const recorder = new HttpMetricsRecorder(new HttpMetrics(this.options.registry, http, this.cardinality), http);
    if (this.transports.hasGraphql) recorder.addKnownRoute(this.graphqlPath());
    observeExceptionFilters(this.modules, this.moduleRef, filterHolders, (request, exception) =>
      recorder.noteException(request, exception),
    );
    if (type === 'express') {
      this.express = new ExpressInstrumentation(recorder);
      this.express.install(adapter as unknown as ExpressAdapterLike, report);
    } else {
      this.fastify = new FastifyInstrumentation(recorder);
      this.fastify.install(adapter as unknown as FastifyAdapterLike, report);
    }
    // Nest's exception layer and filters ask these right after choosing a filter (see exception-spy).
    observeAdapterReplies(adapter, response => recorder.observeException(response));
    const unobserved = probeFilterSelection(exceptionObserver, takeObservedException);
    if (unobserved !== undefined) report.filterSelectionUnobserved(unobserved);
  }

  /** The GraphQL module's endpoint: its driver serves it outside Nest's router. */
  private graphqlPath(): string {
    let path: unknown;
    try {
      path = this.moduleRef.get<unknown, { path?: unknown } | undefined>(GRAPHQL_MODULE_OPTIONS, {
        strict: false,
      })?.path;
    } catch {
      // No GraphQL module options: the driver's default path.
    }
    return typeof path === 'string' && path !== '' ? (path.startsWith('/') ? path : `/${path}`) : '/graphql';
  }

  /** After Nest registered the routes. */
  onModuleInit(): void {
    if (this.express?.instrumentRoutes() === 0 && this.controllerRoutes > 0) {
      this.report?.expressRoutesNotFound(this.controllerRoutes);
    }
  }

  /** After `app.init()` registered everything: one warning for what the self-check found, if anything. */
  onApplicationBootstrap(): void {
    if (this.fastify?.notFoundHandlerSet === false) this.report?.notFoundHandlerUnseen();
    if (this.fastify?.controllerRoutesSeen === 0 && this.controllerRoutes > 0) {
      this.report?.fastifyRoutesUnseen(this.controllerRoutes);
    }
    this.report?.flush();
  }
}
