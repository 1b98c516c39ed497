import {
  Controller,
  Get,
  Injectable,
  NotFoundException,
  Param,
  Req,
  Res,
  type Type,
  VERSION_NEUTRAL,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { GUARDS_METADATA } from '../compat/nest-constants.js';
import { DoNotTrack } from '../decorators/do-not-track.decorator.js';
import { SWAGGER_EXCLUDE_CONTROLLER_METADATA } from '../compat/nest-constants.js';
import type { StatusResponse } from './status-page-assets.js';
import { StatusPageService } from './status-page.service.js';

interface PageRequest {
  url?: string;
  /** Express: `url` loses a mount path. */
  originalUrl?: string;
}

/**
 * Writes a status page response itself (`@Res()`), so users' global interceptors that reshape
 * return values never wrap the page or its data.
 */
@Injectable()
abstract class StatusPageResponder {
  constructor(
    protected readonly status: StatusPageService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  protected send(res: unknown, response: StatusResponse | undefined): void {
    // forRootAsync with the page off, or on the metrics port alone: the route exists (controllers
    // are static) but serves nothing.
    if (!response || !this.status.servedOnAppPort) throw new NotFoundException();
    const adapter = this.adapterHost.httpAdapter;
    for (const name of Object.keys(response.headers)) adapter.setHeader(res, name, response.headers[name]);
    adapter.reply(res, response.body, response.status);
  }
}

/**
 * The page (`GET {path}`) and its files (`GET {path}/<file>`); routed by {@link routeStatusPageControllers}.
 *
 * @example
 * ```ts
 * const [page, data] = createStatusPageControllers(); // page extends StatusPageController
 * ```
 */
export class StatusPageController extends StatusPageResponder {
  @Get()
  @DoNotTrack()
  page(@Req() req: PageRequest, @Res() res: unknown): void {
    this.send(res, this.status.page(req.originalUrl ?? req.url));
  }

  @Get(':file')
  @DoNotTrack()
  file(@Param('file') file: string, @Res() res: unknown): void {
    this.send(res, this.status.asset(file));
  }
}

/**
 * The page's data (`GET {path}.json`).
 *
 * @example
 * ```ts
 * const [, data] = createStatusPageControllers(); // data extends StatusDataController
 * ```
 */
export class StatusDataController extends StatusPageResponder {
  @Get()
  @DoNotTrack()
  async data(@Res() res: unknown): Promise<void> {
    this.send(res, await this.status.data());
  }
}

/**
 * The status page's controller classes, of their own per module (their paths come from options),
 * never counted, out of Swagger documents.
 *
 * @example
 * ```ts
 * const controllers = createStatusPageControllers();
 * routeStatusPageControllers(controllers, '/metrics/status');
 * ```
 */
export function createStatusPageControllers(): [Type<StatusPageController>, Type<StatusDataController>] {
  class PrometheusStatusPageController extends StatusPageController {}
  class PrometheusStatusDataController extends StatusDataController {}
  for (const controller of [PrometheusStatusPageController, PrometheusStatusDataController]) {
    DoNotTrack()(controller);
    Reflect.defineMetadata(SWAGGER_EXCLUDE_CONTROLLER_METADATA, [true], controller);
  }
  return [PrometheusStatusPageController, PrometheusStatusDataController];
}

/**
 * The guards a user's metrics controller (`controller` option) declares on its class, for the
 * status page to apply too: the page shows what the metrics show.
 *
 * @example
 * ```ts
 * UseGuards(...(classGuardsOf(MyMetricsController) as Parameters<typeof UseGuards>))(pageController);
 * ```
 */
export function classGuardsOf(controller: Type<unknown>): unknown[] {
  const guards: unknown = Reflect.getMetadata(GUARDS_METADATA, controller);
  return Array.isArray(guards) ? guards : [];
}

/**
 * Routes the page at `path` and its data at `{path}.json`, outside URI versioning.
 *
 * @example
 * ```ts
 * routeStatusPageControllers(createStatusPageControllers(), '/metrics/status');
 * ```
 */
export function routeStatusPageControllers(
  [page, data]: [Type<StatusPageController>, Type<StatusDataController>],
  path: string,
): void {
  Controller({ path, version: VERSION_NEUTRAL })(page);
  Controller({ path: `${path}.json`, version: VERSION_NEUTRAL })(data);
}
