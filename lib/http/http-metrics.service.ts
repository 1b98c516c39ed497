import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, Reflector } from '@nestjs/core';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions } from '../prometheus-options.js';
import { ExpressInstrumentation } from './express-instrumentation.js';
import { FastifyInstrumentation } from './fastify-instrumentation.js';
import { HttpMetrics } from './http-metrics.js';
import { HttpMetricsRecorder } from './http-metrics.recorder.js';
import { markUntrackedRoutes } from './untracked-routes.js';
import { REQUEST_RECORD, type RecordedRequest, type RequestRecord } from './request-record.js';

type HandlerRequest = RecordedRequest & { raw?: RecordedRequest };

/** Registers the default HTTP metrics and hooks them into the app's HTTP adapter. */
@Injectable()
export class HttpMetricsService implements OnModuleInit {
  private readonly logger = new Logger('PrometheusModule');
  private recorder?: HttpMetricsRecorder;
  private express?: ExpressInstrumentation;

  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly adapterHost: HttpAdapterHost,
    discovery: DiscoveryService,
    scanner: MetadataScanner,
    reflector: Reflector,
  ) {
    // Providers are created before Nest registers routes: the last moment to mark them.
    if (options.http !== false) markUntrackedRoutes(discovery, scanner, reflector);
  }

  onModuleInit(): void {
    const http = this.options.http;
    const adapter = this.adapterHost.httpAdapter;
    // An application context or a microservice has no HTTP adapter: nothing to count.
    if (http === false || !adapter) return;
    const recorder = new HttpMetricsRecorder(new HttpMetrics(this.options.registry, http), http);
    const type = adapter.getType();
    if (type === 'express') {
      this.express = new ExpressInstrumentation(recorder);
      this.express.install(adapter.getInstance());
    } else if (type === 'fastify') {
      new FastifyInstrumentation(recorder).install(adapter.getInstance());
    } else {
      this.logger.warn(`HTTP adapter "${type}" is not supported: default HTTP metrics are off`);
      return;
    }
    this.recorder = recorder;
  }

  /**
   * Called by the interceptor when a handler is about to run. Returns the request's record, or
   * `undefined` when the request is not counted.
   */
  handlerStarted(request: object, untracked: boolean): RequestRecord | undefined {
    const raw = (request as HandlerRequest).raw ?? (request as HandlerRequest);
    const record = raw[REQUEST_RECORD];
    if (record === undefined || this.recorder === undefined) return undefined;
    if (untracked) {
      record.skip = true;
      return undefined;
    }
    this.recorder.enter(record, this.express?.seriesAtHandler(raw));
    return record;
  }
}
