import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  FastifyReplyHeaders,
  FastifyRouteContexts,
  fastifyMatchedRoute,
  fastifyRouteConfig,
  wrapFastifyRequestListener,
  wrapNotFoundHandler,
} from '../compat/fastify-server.js';
import type { CompatReport } from '../compat/self-check.js';
import { CONTROLLER_ROUTE_CONFIG, UNTRACKED_ROUTE_CONFIG } from './http.constants.js';
import type { HttpMetricsRecorder, RouteInspector } from './http-metrics.recorder.js';
import { type RequestHookHost, startInRequestHook } from './request-hook.js';
import type { RecordedRequest, RequestRecord } from './request-record.js';
import type { RouteSeries } from './route-series.js';

type RawRequest = IncomingMessage & RecordedRequest & { [FASTIFY_RECORD]?: RequestRecord };

// Fastify leaves the raw request's prototype alone, so a property there is cheap.
const FASTIFY_RECORD = Symbol('nestjs-prom-metrics:record');
/** Key of a controller route's `FastifyRouteState` (or null: `@DoNotTrack()`) in its config. */
const ROUTE_STATE = Symbol('nestjs-prom-metrics:route');
interface FastifyRequestLike {
  raw: RawRequest;
  routeOptions?: { url?: string; config?: RouteConfig };
}
type RouteConfig = Record<string | symbol, unknown>;
interface FastifyReplyLike {
  raw: ServerResponse;
  getHeader(name: string): unknown;
}
type Hook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => unknown;
interface RouteOptionsLike {
  url: string;
  config?: RouteConfig;
}
interface FastifyLike {
  addHook(name: 'onRoute', hook: (route: RouteOptionsLike) => void): unknown;
  addHook(name: 'onRequest', hook: Hook): unknown;
}
type NotFoundHandler = (request: FastifyRequestLike, reply: FastifyReplyLike) => unknown;
/** What the module uses of Nest's `FastifyAdapter`. */
export interface FastifyAdapterLike extends RequestHookHost<FastifyRequestLike, FastifyReplyLike> {
  getInstance(): unknown;
  getHttpServer?(): unknown;
  setNotFoundHandler(handler: NotFoundHandler, ...rest: unknown[]): unknown;
}

/** The route config flags the module sets on controller routes (see prepare-routes). */
const OWN_ROUTE_FLAGS = [CONTROLLER_ROUTE_CONFIG, UNTRACKED_ROUTE_CONFIG];

/**
 * What a controller route's config carries for its requests: its template, and the series of the
 * method it was last requested with (a Fastify route has one method, or a few with `@All()`), so
 * that a request finds its series without a lookup. Also the route's key among the recorder's routes.
 */
class FastifyRouteState {
  method: string | undefined = undefined;
  series: RouteSeries | null = null;

  constructor(readonly template: string) {}
}

/**
 * Fastify: the adapter's request hook (Nest's first `onRequest` hook, ahead of CORS, middleware
 * and the shutdown guard) starts the clock, listens for the end of the raw response and, as the
 * route is matched before any hook runs, marks the request in progress on its route: the
 * `onRoute` hook left the route's state in the route's config, where the request's route context
 * finds it (one hook for all of it: a hook per route would cost a second hook call per request).
 * Routes `@DoNotTrack()` covers are marked not counted, and routes that plugins add (CORS
 * preflight) count as unmatched, as on Express. Requests answered before that hook are resolved
 * from Fastify's route options at the end. Without the adapter's request hook (NestJS 10, 11.0),
 * a global onRequest hook of the module stands in for it.
 */
export class FastifyInstrumentation implements RouteInspector<RouteConfig> {
  /** Whether Nest handed its not-found handler to the adapter (checked after init). */
  notFoundHandlerSet = false;
  /** Controller routes whose registration the `onRoute` hook saw (checked after init). */
  controllerRoutesSeen = 0;
  /** Where replies keep their headers (found on the first reply). */
  readonly replyHeaders = new FastifyReplyHeaders();
  /** Where requests keep their route's context (found on the first request). */
  readonly routeContexts = new FastifyRouteContexts();

  constructor(private readonly recorder: HttpMetricsRecorder) {}

  /** Before the routes are registered. */
  install(adapter: FastifyAdapterLike, report?: CompatReport): void {
    const recorder = this.recorder;
    const routeContexts = this.routeContexts;
    const inspector: RouteInspector<never> = this;
    // One close listener for every response (no closure per request): the record is on the request.
    const onClose = function (this: ServerResponse): void {
      const record = (this.req as RawRequest)[FASTIFY_RECORD];
      if (record !== undefined) recorder.end(record, this, inspector);
    };
    const track = (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      let record = request.raw[FASTIFY_RECORD];
      if (record === undefined) {
        record = recorder.beginShared(reply.raw, onClose, inspector);
        request.raw[FASTIFY_RECORD] = record;
      }
      if (record.reply === undefined) {
        record.reply = reply;
        record.request = request;
        const state = routeContexts.config(request)?.[ROUTE_STATE] as FastifyRouteState | null | undefined;
        // undefined: not a controller route (a plugin's, Fastify's 404), resolved at the end.
        if (state !== undefined) {
          recorder.enterRoute(record, state === null ? null : this.seriesOf(state, request.raw.method ?? 'GET'));
        }
      }
      return record;
    };
    // The server's request event comes first of all: responses Fastify's router sends itself (a
    // URL it cannot decode, a parameter too long), before any hook, are counted too.
    // Fastify's handler is wrapped rather than joined by a second listener: with two listeners, every
    // emit copies the listener array.
    const server = adapter.getHttpServer?.() as Server | undefined;
    const wrapped = wrapFastifyRequestListener(server, (req: RawRequest, res) => {
      req[FASTIFY_RECORD] = recorder.beginShared(res, onClose, inspector);
    });
    if (!wrapped) report?.fastifyRequestListeners(server?.listenerCount?.('request'));
    // Hands Fastify's request and reply to the record (`app.inject()` has no request event: begins there).
    if (!startInRequestHook(adapter, track)) {
      // NestJS 10 and 11.0: a global onRequest hook of our own hands them over instead. It runs
      // after @fastify/middie's (Nest registers middie in the adapter's init, before any module
      // code), so a response Nest middleware sends counts as unmatched there (README, Compatibility).
      (adapter.getInstance() as FastifyLike).addHook('onRequest', (request, reply, done) => {
        track(request, reply);
        done();
      });
      report?.requestHookMissing();
    }

    (adapter.getInstance() as FastifyLike).addHook('onRoute', route => {
      const config = fastifyRouteConfig(route, OWN_ROUTE_FLAGS);
      if (config?.[CONTROLLER_ROUTE_CONFIG] !== true) return;
      this.controllerRoutesSeen++;
      // A state per route: Fastify derives a HEAD route from a GET route's options, config
      // included, and its onRoute replaces the GET route's state. A copy of the config: it can be
      // the handler's own metadata, which several routes share (`@All()`).
      const state = config[UNTRACKED_ROUTE_CONFIG] === true ? null : new FastifyRouteState(route.url);
      route.config = { ...config, [ROUTE_STATE]: state };
    });

    wrapNotFoundHandler(adapter, (handler: NotFoundHandler) => {
      this.notFoundHandlerSet = true;
      const recorded: NotFoundHandler = (request, reply) => {
        const raw = request.raw;
        // A route can hand its request over to the not-found handler (an empty path parameter).
        const record = track(request, reply);
        recorder.enterRoute(record, null);
        record.series = recorder.unmatchedSeries(raw.method ?? 'GET', raw.url);
        return handler(request, reply);
      };
      return recorded;
    });
  }

  /** The series of a controller route for a method, kept on the route's state for the next request. */
  private seriesOf(state: FastifyRouteState, method: string): RouteSeries | null {
    if (method !== state.method) {
      state.series = this.recorder.routeSeries(state, state.template, method, undefined);
      state.method = method;
    }
    return state.series;
  }

  isUntracked(config: RouteConfig): boolean {
    return config[UNTRACKED_ROUTE_CONFIG] === true;
  }

  contentLength(res: ServerResponse, record: RequestRecord): unknown {
    const reply = record.reply;
    // No reply: Fastify's router answered before any hook (an undecodable URL).
    return reply === undefined ? res.getHeader('content-length') : this.replyHeaders.contentLength(reply);
  }

  /** A request answered before the module's hook saw it, or on a route not a controller's (CORS preflight). */
  seriesAtEnd(res: ServerResponse, _status: number, record: RequestRecord): void {
    const route = fastifyMatchedRoute(record.request as FastifyRequestLike | undefined);
    const method = res.req.method ?? 'GET';
    record.series =
      route?.url === undefined || route.config?.[CONTROLLER_ROUTE_CONFIG] !== true
        ? this.recorder.unmatchedSeries(method, res.req.url)
        : this.recorder.routeSeries(route.config, route.url, method, this);
  }
}
