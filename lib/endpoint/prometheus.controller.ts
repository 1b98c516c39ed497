import {
  Controller,
  Get,
  Inject,
  NotFoundException,
  Res,
  ServiceUnavailableException,
  StreamableFile,
  type Type,
  VERSION_NEUTRAL,
} from '@nestjs/common';
import { DoNotTrack } from '../decorators/do-not-track.decorator.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import { SWAGGER_EXCLUDE_CONTROLLER_METADATA } from '../compat/nest-constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { requestedNames } from '../core/exposition/render-metrics.js';
import { ScrapeHandler } from './scrape-handler.js';
import { bodyAsBytes } from '../core/exposition/scrape-response.js';

/** Nest's metadata keys of `@Controller()` (the same in Nest 11 and 12). */
const PATH_METADATA = 'path';
const VERSION_METADATA = '__version__';

interface IncomingScrape {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  /** Express: `url` loses a mount path. */
  originalUrl?: string;
}

/** Express's response (`res.req`, `res.setHeader`) or Fastify's reply (`reply.request`, `reply.header`). */
interface ScrapeResponseObject {
  req?: IncomingScrape;
  request?: IncomingScrape;
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

/**
 * The metrics endpoint as a class to extend, as in `@willsoto/nestjs-prometheus`: pass a subclass as
 * `register({ controller })` (or `forRoot({ controller })`) to add guards, Swagger decorators or
 * interceptors, or to route the handler method elsewhere. `index()` keeps this module's endpoint:
 * OpenMetrics when asked for, gzip, `?name[]=`, the cluster's metrics, never counted in the HTTP
 * metrics. Its response parameter is `@Res({ passthrough: true })`: Nest sends what `index()`
 * returns, so an override may take `@Res()` and return `super.index(response)`.
 *
 * The module routes the class at its `path` (default `/metrics`), outside URI versioning.
 *
 * @example
 * ```ts
 * @Controller()
 * class MetricsController extends PrometheusController {
 *   @Get()
 *   @UseGuards(ScraperGuard)
 *   index(@Res({ passthrough: true }) response: Response) {
 *     return super.index(response);
 *   }
 * }
 *
 * PrometheusModule.register({ controller: MetricsController });
 * ```
 *
 * @public
 */
@Controller()
@DoNotTrack()
export class PrometheusController {
  // Property injection: subclasses keep a constructor of their own (willsoto's base class has none).
  @Inject(ScrapeHandler) private readonly scrapeHandler!: ScrapeHandler;
  @Inject(PROMETHEUS_OPTIONS) private readonly scrapeOptions!: ResolvedPrometheusOptions;

  /**
   * The exposition for Nest to send: a string, or a `StreamableFile` of gzip bytes. Typed `any` so
   * that overrides declared as in willsoto (`Promise<string>`) compile unchanged.
   */
  @Get()
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  async index(@Res({ passthrough: true }) response: unknown): Promise<any> {
    if (this.scrapeOptions?.path === false) throw new NotFoundException();
    if (!this.scrapeHandler) {
      throw new ServiceUnavailableException(
        "PrometheusController is served only as PrometheusModule's controller option",
      );
    }
    const reply = response as ScrapeResponseObject;
    const request = reply.req ?? reply.request;
    const { status, headers, body } = await this.scrapeHandler.scrape(
      header(request, 'accept'),
      header(request, 'accept-encoding'),
      requestedNames(request?.originalUrl ?? request?.url),
    );
    // Nest sends what is returned with its own status (200): a failure must be an exception.
    if (status >= 400) throw new ServiceUnavailableException(String(body).trim());
    for (const name of Object.keys(headers)) {
      if (typeof reply.setHeader === 'function') reply.setHeader(name, headers[name]);
      else reply.header?.(name, headers[name]);
    }
    // Bytes (gzip, or the exposition's slices) are sent as bytes only as a StreamableFile; a string as it is.
    if (typeof body === 'string') return body;
    const bytes = bodyAsBytes(body);
    return Buffer.isBuffer(bytes) ? new StreamableFile(bytes) : new StreamableFile(bytes);
  }
}

function header(request: IncomingScrape | undefined, name: string): string | undefined {
  const value = request?.headers?.[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Prepares a user's controller class (`controller` option) as the metrics endpoint: never counted,
 * out of Swagger documents. The route comes later, from the options ({@link routeUserController}).
 */
export function prepareUserController(controller: Type<unknown>): void {
  DoNotTrack()(controller);
  Reflect.defineMetadata(SWAGGER_EXCLUDE_CONTROLLER_METADATA, [true], controller);
}

/**
 * Routes a user's controller at the configured path, as `@willsoto/nestjs-prometheus` does (the
 * class's own `@Controller()` path gives way to `path`), outside URI versioning unless it has a
 * version of its own. Its other `@Controller()` options (host, scope) stay.
 */
export function routeUserController(controller: Type<unknown>, path: string): void {
  Reflect.defineMetadata(PATH_METADATA, path, controller);
  if (Reflect.getMetadata(VERSION_METADATA, controller) === undefined) {
    Reflect.defineMetadata(VERSION_METADATA, VERSION_NEUTRAL, controller);
  }
}
