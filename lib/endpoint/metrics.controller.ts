import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  Controller,
  Get,
  Inject,
  NotFoundException,
  Req,
  Res,
  type Type,
  VERSION_NEUTRAL,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DoNotTrack } from '../decorators/do-not-track.decorator.js';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions } from '../prometheus-options.js';
import { PrometheusService } from '../prometheus.service.js';

const gzipAsync = promisify(gzip);

interface ScrapeRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface ScrapeResponse {
  send(body: string | Buffer): unknown;
}

/**
 * Serves the registry. It writes the response itself (`@Res()`), so users' global interceptors
 * that reshape return values (`{ data: ... }`) never wrap the exposition.
 */
export class MetricsController {
  constructor(
    private readonly prometheus: PrometheusService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(PROMETHEUS_OPTIONS) private readonly options: ResolvedPrometheusOptions,
  ) {}

  @Get()
  @DoNotTrack()
  async scrape(@Req() req: ScrapeRequest, @Res() res: ScrapeResponse): Promise<void> {
    // forRootAsync with `path: false`: the route exists (controllers are static) but serves nothing.
    if (this.options.path === false) throw new NotFoundException();
    const { contentType, body } = await this.prometheus.render(header(req, 'accept'));
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(res, 'Content-Type', contentType);
    adapter.setHeader(res, 'Cache-Control', 'no-store');
    adapter.setHeader(res, 'Vary', 'Accept, Accept-Encoding');
    if (/\bgzip\b/.test(header(req, 'accept-encoding') ?? '')) {
      adapter.setHeader(res, 'Content-Encoding', 'gzip');
      res.send(await gzipAsync(body));
    } else {
      res.send(body);
    }
  }
}

function header(req: ScrapeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** A controller class of its own per module, so its path can come from (async) options. */
export function createMetricsController(): Type<MetricsController> {
  class PrometheusMetricsController extends MetricsController {}
  return PrometheusMetricsController;
}

/** Routes the controller at the configured path, outside URI versioning. */
export function routeMetricsController(controller: Type<MetricsController>, path: string): void {
  Controller({ path, version: VERSION_NEUTRAL })(controller);
}
