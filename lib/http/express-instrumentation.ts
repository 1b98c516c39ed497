import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  expressLayerMatches,
  expressRouteHandlerLayers,
  expressRouteHandlesMethod,
  expressRouteMetadata,
  expressRouterStack,
  putExpressMiddlewareFirst,
} from '../compat/express-router.js';
import { METHOD_METADATA } from '../compat/nest-constants.js';
import type { CompatReport } from '../compat/self-check.js';
import { DO_NOT_TRACK_METADATA } from '../decorators/decorator.constants.js';
import type { HttpMetricsRecorder, RouteInspector } from './http-metrics.recorder.js';
import { type RequestHookHost, startInRequestHook } from './request-hook.js';
import type { RecordedRequest, RequestRecord } from './request-record.js';
import type { RouteSeries } from './route-series.js';

type Handler = (req: ExpressRequest, res: ExpressResponse, next: (error?: unknown) => void) => unknown;
interface ExpressRoute {
  path: string;
  stack: { handle: Handler }[];
  _handlesMethod?(method: string): boolean;
  _handles_method?(method: string): boolean;
}
interface ExpressLayer {
  route?: ExpressRoute;
  match(path: string): unknown;
}
interface ExpressRouter {
  stack: ExpressLayer[];
}
interface ExpressApp {
  use(fn: Handler): unknown;
  router?: ExpressRouter;
  _router?: ExpressRouter;
}
/** What the module uses of Nest's `ExpressAdapter`. */
export interface ExpressAdapterLike extends RequestHookHost<ExpressRequest, ExpressResponse> {
  getInstance(): unknown;
}
type ExpressRequest = IncomingMessage & RecordedRequest & { route?: ExpressRoute; originalUrl?: string };
type ExpressResponse = ServerResponse & {
  req: ExpressRequest;
  locals?: Record<symbol, RouteSeries | null | undefined>;
};

// The series whose in-progress gauge a request's route handler incremented, in `res.locals` (a
// dictionary Express creates per request, where a property costs no map change).
const ENTERED = Symbol('nestjs-prom-metrics:entered');

/**
 * Express: the adapter's request hook (run by Nest's first middleware, ahead of the body parser
 * and users' middleware) starts the clock and listens for the response's end; each controller
 * route's handler marks the request in progress on its route. Requests answered before routing
 * (404s, body-parser errors) are resolved when they end.
 */
export class ExpressInstrumentation implements RouteInspector<ExpressRoute> {
  private app?: ExpressApp;
  /** Nest's controller routes, found once: a metadata lookup per request costs microseconds. */
  private readonly controllerRoutes = new Set<ExpressRoute>();
  /** Tracked routes whose handler marks requests in progress, alone on their path. */
  private readonly soleRoutes = new Set<ExpressRoute>();
  /** Tracked routes that share their path with others (version or host filters). */
  private readonly sharedRoutes = new Set<ExpressRoute>();

  constructor(private readonly recorder: HttpMetricsRecorder) {}

  /** Before the routes are registered. */
  install(adapter: ExpressAdapterLike, report?: CompatReport): void {
    const app = (this.app = adapter.getInstance() as ExpressApp);
    const recorder = this.recorder;
    const inspector: RouteInspector<never> = this;
    if (startInRequestHook(adapter, (_req, res) => recorder.begin(res, inspector))) return;
    report?.requestHookMissing();
    // Without request hooks: a layer of our own, moved ahead of everything Nest registered.
    const first = putExpressMiddlewareFirst(app, (_req, res: ExpressResponse, next) => {
      recorder.begin(res, inspector);
      next();
    });
    if (!first) report?.expressRouterUnknown();
  }

  /**
   * After the routes are registered: each controller route's handler marks the request in
   * progress on its route, and the request's end finds that route again as `req.route`. Where
   * several routes share a path (version and host filters hand a request on with `next()`), the
   * series entered last is kept in `res.locals` instead, each route taking over from the previous.
   */
  instrumentRoutes(): number {
    const recorder = this.recorder;
    const inspector: RouteInspector<ExpressRoute> = this;
    const routes = (expressRouterStack(this.app) ?? [])
      .map(layer => layer.route)
      .filter((route): route is ExpressRoute => route !== undefined && isControllerRoute(route));
    const perPath = new Map<string, number>();
    for (const route of routes) perPath.set(route.path, (perPath.get(route.path) ?? 0) + 1);
    for (const route of routes) {
      this.controllerRoutes.add(route);
      if (this.isUntracked(route)) continue;
      const shared = (perPath.get(route.path) ?? 0) > 1;
      (shared ? this.sharedRoutes : this.soleRoutes).add(route);
      const layers = expressRouteHandlerLayers(route);
      if (layers.length === 0) continue;
      const handle = layers[0].handle;
      const entered: Handler = shared
        ? function (this: unknown, req, res, next) {
            const locals = res.locals;
            if (locals !== undefined) {
              locals[ENTERED]?.inProgress.dec();
              const series = recorder.routeSeries(route, route.path, req.method ?? 'GET', inspector);
              series?.inProgress.inc();
              locals[ENTERED] = series;
            }
            return handle.call(this, req, res, next);
          }
        : function (this: unknown, req, res, next) {
            recorder.routeSeries(route, route.path, req.method ?? 'GET', inspector)?.inProgress.inc();
            return handle.call(this, req, res, next);
          };
      // The route's metadata (copied from the handler method by Nest) stays readable.
      for (const key of Reflect.getMetadataKeys(handle)) {
        Reflect.defineMetadata(key, Reflect.getMetadata(key, handle), entered);
      }
      for (const layer of layers) layer.handle = entered;
    }
    return routes.length;
  }

  isUntracked(route: ExpressRoute): boolean {
    return routeMetadata(route, DO_NOT_TRACK_METADATA) === true;
  }

  seriesAtEnd(res: ExpressResponse, status: number, record: RequestRecord): void {
    const series = (record.series = this.resolve(res.req, status));
    const route = res.req.route;
    if (route === undefined) return;
    if (this.soleRoutes.has(route)) record.inProgress = series ?? undefined;
    else if (this.sharedRoutes.has(route)) record.inProgress = res.locals?.[ENTERED] ?? undefined;
  }

  private resolve(req: ExpressRequest, status: number): RouteSeries | null {
    const method = req.method ?? 'GET';
    // Only controller routes: Nest also registers its not-found handler under a global prefix, and
    // route-bound middleware, as Express routes.
    if (req.route !== undefined && this.controllerRoutes.has(req.route)) {
      return this.recorder.routeSeries(req.route, req.route.path, method, this);
    }
    const known = this.recorder.knownSeries(method, req.originalUrl ?? req.url);
    if (known !== undefined) return known;
    // Answered before its handler (body parser 400/413, a middleware): find the route it was for.
    const route = status === 404 ? undefined : this.matchRoute(req, method);
    return route === undefined
      ? this.recorder.unmatchedSeries(method, req.originalUrl ?? req.url)
      : this.recorder.routeSeries(route, route.path, method, this);
  }

  private matchRoute(req: ExpressRequest, method: string): ExpressRoute | undefined {
    // A mounted middleware that answered leaves `req.url` without its mount path.
    const url = req.originalUrl ?? req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    for (const layer of expressRouterStack(this.app) ?? []) {
      const route = layer.route;
      if (route === undefined) continue;
      if (
        expressRouteHandlesMethod(route, method) &&
        this.controllerRoutes.has(route) &&
        expressLayerMatches(layer, path)
      ) {
        return route;
      }
    }
    return undefined;
  }
}

/** Nest copies a handler method's metadata onto the function it registers with the router. */
function routeMetadata(route: ExpressRoute, key: string): unknown {
  return expressRouteMetadata(route, key);
}

function isControllerRoute(route: ExpressRoute): boolean {
  return routeMetadata(route, METHOD_METADATA) !== undefined;
}
