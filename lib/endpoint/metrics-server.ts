import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { describeError } from '../core/describe-error.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import { METRICS_SERVER_ROUTES, PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import {
  close,
  createMetricsHttpServer,
  listen,
  type OtherRoutesFn,
  serverUrl,
} from '../core/exposition/metrics-http-server.js';
import { ScrapeHandler } from './scrape-handler.js';

/**
 * The metrics server of `forRoot({ port })`: its own HTTP server, so the metrics stay off the
 * public port. Listens when the app bootstraps (`app.init()`/`listen()`), closes with `app.close()`.
 *
 * @example
 * ```ts
 * const { port } = app.get(PrometheusMetricsServer).address()!; // with forRoot({ port: 0 })
 * ```
 * @public
 */
@Injectable()
export class PrometheusMetricsServer {
  private readonly logger = new Logger('PrometheusModule');
  private server?: Server;

  /** @internal Nest creates it. */
  constructor(
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
    private readonly handler: ScrapeHandler,
    runtime: PrometheusRuntime,
    @Optional() @Inject(METRICS_SERVER_ROUTES) private readonly otherRoutes?: OtherRoutesFn,
  ) {
    runtime.at('bootstrap', 'endpoint: start the metrics server', () => this.listen());
    runtime.at('shutdown', 'endpoint: close the metrics server', () => this.close());
  }

  /** Where the metrics server listens (`forRoot({ port: 0 })` picks a free port), once the app is initialised. */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  private async listen(): Promise<void> {
    const server = this.options.server;
    if (!server || this.server) return;
    this.server = createMetricsHttpServer(
      server.path,
      (accept, encoding, names) => this.handler.scrape(accept, encoding, names),
      error => this.logger.error(`scrape failed: ${describeError(error)}`),
      this.otherRoutes,
    );
    await listen(this.server, server.port, server.host, 'PrometheusModule metrics server');
    // Where the metrics are exposed (port 0 picks one) is worth a line in every deployment's log.
    this.logger.log(`metrics server listening on ${serverUrl(this.server, server.path)}`);
  }

  private async close(): Promise<void> {
    if (this.server) await close(this.server);
  }
}
