import type { IncomingMessage, ServerResponse } from 'node:http';
import { METHOD_METADATA } from '@nestjs/common/constants.js';
import { DO_NOT_TRACK_METADATA } from '../prometheus.constants.js';
import type { HttpMetricsRecorder, RouteInspector } from './http-metrics.recorder.js';
import { REQUEST_RECORD, type RecordedRequest } from './request-record.js';
import type { RouteSeries } from './route-series.js';

interface ExpressRoute {
  path: string;
  stack: { handle: unknown }[];
  _handlesMethod?(method: string): boolean;
  _handles_method?(method: string): boolean;
}
interface ExpressLayer {
  route?: ExpressRoute;
  handle: unknown;
  match(path: string): unknown;
}
interface ExpressRouter {
  stack: ExpressLayer[];
}
interface ExpressApp {
  use(fn: (req: ExpressRequest, res: ServerResponse, next: () => void) => void): unknown;
  router?: ExpressRouter;
  _router?: ExpressRouter;
}
type ExpressRequest = IncomingMessage & RecordedRequest & { route?: ExpressRoute; path?: string };

/**
 * Express: a layer put first in the app's stack, ahead of Nest's body parser and users'
 * middleware, starts the clock and listens for the response's end, so 404s, body-parser
 * errors and guard rejections are counted as well as what reaches a handler.
 */
export class ExpressInstrumentation implements RouteInspector<ExpressRoute> {
  private app?: ExpressApp;

  constructor(private readonly recorder: HttpMetricsRecorder) {}

  install(app: ExpressApp): void {
    this.app = app;
    const recorder = this.recorder;
    const inspector: RouteInspector<never> = this;
    function onClose(this: ServerResponse & { req: ExpressRequest }): void {
      const record = this.req[REQUEST_RECORD];
      if (record !== undefined) recorder.end(record, this, inspector);
    }
    app.use(function prometheusRequestStart(req, res, next) {
      recorder.begin(req);
      res.on('close', onClose);
      next();
    });
    const router = app.router ?? app._router;
    const stack = router?.stack;
    if (!Array.isArray(stack) || stack.length === 0) {
      throw new Error('PrometheusModule: cannot find the Express router stack to count HTTP requests');
    }
    // Nest registered its body parser and the routes before modules initialise: go first.
    stack.unshift(stack.pop() as ExpressLayer);
  }

  /** The route the router matched, once a handler is about to run. */
  seriesAtHandler(req: RecordedRequest & { route?: ExpressRoute }): RouteSeries | null | undefined {
    const route = req.route;
    return route === undefined ? undefined : this.routeSeries(route, req.method ?? 'GET');
  }

  private routeSeries(route: ExpressRoute, method: string): RouteSeries | null {
    return this.recorder.routeSeries(route, route.path, method, this);
  }

  isUntracked(route: ExpressRoute): boolean {
    return routeMetadata(route, DO_NOT_TRACK_METADATA) === true;
  }

  seriesAtEnd(req: ExpressRequest, status: number): RouteSeries | null {
    const method = req.method ?? 'GET';
    // Nest answers unmatched requests under a global prefix from a catch-all route of its own.
    if (req.route !== undefined && (status !== 404 || isControllerRoute(req.route))) {
      return this.routeSeries(req.route, method);
    }
    // Answered before routing (body parser 400/413, a middleware): find the route it was for.
    const route = status === 404 ? undefined : this.matchRoute(req, method);
    return route === undefined ? this.recorder.unmatchedSeries(method, req.url) : this.routeSeries(route, method);
  }

  private matchRoute(req: ExpressRequest, method: string): ExpressRoute | undefined {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    for (const layer of (this.app?.router ?? this.app?._router)?.stack ?? []) {
      const route = layer.route;
      if (route === undefined) continue;
      const handles = route._handlesMethod ?? route._handles_method;
      if (handles?.call(route, method) && isControllerRoute(route) && layer.match(path)) return route;
    }
    return undefined;
  }
}

/** Nest copies a handler method's metadata onto the function it registers with the router. */
function routeMetadata(route: ExpressRoute, key: string): unknown {
  const handle = route.stack[route.stack.length - 1]?.handle;
  return typeof handle === 'function' ? Reflect.getMetadata(key, handle) : undefined;
}

function isControllerRoute(route: ExpressRoute): boolean {
  return routeMetadata(route, METHOD_METADATA) !== undefined;
}
