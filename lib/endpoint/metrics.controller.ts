import type { Readable } from 'node:stream';
import { Controller, Get, Inject, NotFoundException, Req, Res, type Type, VERSION_NEUTRAL } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { bodyKeepingContentType } from '../compat/express-response.js';
import { DoNotTrack } from '../decorators/do-not-track.decorator.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import { SWAGGER_EXCLUDE_CONTROLLER_METADATA } from '../compat/nest-constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { requestedNames } from '../core/exposition/render-metrics.js';
import { ScrapeHandler } from './scrape-handler.js';
import { bodyAsBytes, bodyLength, endWithBody, releaseWhenClosed } from '../core/exposition/scrape-response.js';

interface ScrapeRequest {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  /** Express: `url` loses a mount path. */
  originalUrl?: string;
}
interface ScrapeReply {
  send(body: string | Buffer | Readable): unknown;
  /** Fastify's reply: Node's response. */
  raw?: { once(event: 'close', listener: () => void): unknown };
  once?(event: 'close' | 'drain', listener: () => void): unknown;
  /** Express's response is Node's `ServerResponse`. */
  write?(chunk: Buffer): unknown;
  end?(chunk?: string | Buffer): unknown;
}

/**
 * Serves the registry. It writes the response itself (`@Res()`), so users' global interceptors
 * that reshape return values (`{ data: ... }`) never wrap the exposition.
 */
export class MetricsController {
  constructor(
    private readonly handler: ScrapeHandler,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
  ) {}

  @Get()
  @DoNotTrack()
  async scrape(@Req() req: ScrapeRequest, @Res() res: ScrapeReply): Promise<void> {
    // forRootAsync with `path: false` (or a port of its own): the route exists (controllers are
    // static) but serves nothing.
    if (this.options.path === false) throw new NotFoundException();
    const response = await this.handler.scrape(
      header(req, 'accept'),
      header(req, 'accept-encoding'),
      requestedNames(req.originalUrl ?? req.url),
    );
    const { status, headers, body } = response;
    releaseWhenClosed(res.raw ?? res, response);
    const adapter = this.adapterHost.httpAdapter;
    adapter.status(res, status);
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(res, name, value);
    if (adapter.getType() === 'express' && typeof res.end === 'function' && typeof res.write === 'function') {
      // Express's res.send() hashes the whole body for an ETag: tens of milliseconds of the event
      // loop in one piece for 100k series, and useless for a `no-store` response.
      adapter.setHeader(res, 'Content-Length', String(bodyLength(body)));
      endWithBody(res as Required<ScrapeReply>, body);
      return;
    }
    // Fastify: the slices as a stream, with their length (no chunked encoding).
    adapter.setHeader(res, 'Content-Length', String(bodyLength(body)));
    const bytes = bodyAsBytes(body);
    res.send(Buffer.isBuffer(bytes) ? bodyKeepingContentType(bytes) : bytes);
  }
}

function header(req: ScrapeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** A controller class of its own per module, so its path can come from (async) options. */
export function createMetricsController(): Type<MetricsController> {
  class PrometheusMetricsController extends MetricsController {}
  // Scrapes are for Prometheus, not for an API's readers: out of any Swagger document.
  Reflect.defineMetadata(SWAGGER_EXCLUDE_CONTROLLER_METADATA, [true], PrometheusMetricsController);
  return PrometheusMetricsController;
}

/** Routes the controller at the configured path, outside URI versioning. */
export function routeMetricsController(controller: Type<MetricsController>, path: string): void {
  Controller({ path, version: VERSION_NEUTRAL })(controller);
}
