import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
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
interface FastifyRequestLike {
  raw: RawRequest;
  routeOptions?: { url?: string; config?: RouteConfig };
}
type RouteConfig = Record<string | symbol, unknown>;
interface FastifyReplyLike {
  raw: ServerResponse;
  getHeader(name: string): unknown;
}
type Hook = ((request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => unknown) & {
  [OWN_HOOK]?: true;
};
interface RouteOptionsLike {
  url: string;
  config?: Record<string | symbol, unknown>;
  onRequest?: Hook | Hook[];
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

const OWN_HOOK = Symbol('nestjs-prom-metrics:hook');
/** The route config flags the module sets on controller routes (see prepare-routes). */
const OWN_ROUTE_FLAGS = [CONTROLLER_ROUTE_CONFIG, UNTRACKED_ROUTE_CONFIG];

/**
 * Fastify: the adapter's request hook (Nest's first `onRequest` hook, ahead of CORS, middleware
 * and the shutdown guard) starts the clock and listens for the end of the raw response. An
 * `onRequest` hook on each controller route (added as Nest registers it, so it knows its template
 * and costs no lookup) marks the request in progress there; routes `@DoNotTrack()` covers get none,
 * and routes that plugins add (CORS preflight) count as unmatched, as on Express.
 * Requests answered before their route's hook are resolved from Fastify's route options at the
 * end. Without the adapter's request hook (NestJS 10, 11.0), a global onRequest hook of the
 * module stands in for it.
 */
export class FastifyInstrumentation implements RouteInspector<RouteConfig> {
  /** Whether Nest handed its not-found handler to the adapter (checked after init). */
  notFoundHandlerSet = false;
  /** Controller routes whose registration the `onRoute` hook saw (checked after init). */
  controllerRoutesSeen = 0;

  constructor(private readonly recorder: HttpMetricsRecorder) {}

  /** Before the routes are registered. */
  install(adapter: FastifyAdapterLike, report?: CompatReport): void {
    const recorder = this.recorder;
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
      // Fastify derives a HEAD route from a GET route's options: drop the GET route's hook.
      const hooks = ([] as Hook[]).concat(route.onRequest ?? []).filter(h => !h[OWN_HOOK]);
      const config = fastifyRouteConfig(route, OWN_ROUTE_FLAGS);
      if (config?.[CONTROLLER_ROUTE_CONFIG] === true) this.controllerRoutesSeen++;
      if (config?.[CONTROLLER_ROUTE_CONFIG] === true && config[UNTRACKED_ROUTE_CONFIG] !== true) {
        const key = {};
        const template = route.url;
        // The series of the route's (last) method, resolved on its first request: a Fastify route
        // has one method (or a few, with `@All()`), and a series, once made, is kept for good.
        let method: string | undefined;
        let series: RouteSeries | null = null;
        const hook: Hook = (request, reply, done) => {
          const record = track(request, reply);
          const m = request.raw.method ?? 'GET';
          if (m !== method) {
            series = recorder.routeSeries(key, template, m, undefined);
            method = m;
          }
          recorder.enterRoute(record, series);
          done();
        };
        hook[OWN_HOOK] = true;
        hooks.push(hook);
      }
      route.onRequest = hooks;
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

  isUntracked(config: RouteConfig): boolean {
    return config[UNTRACKED_ROUTE_CONFIG] === true;
  }

  /** A request answered before its route's hook ran (CORS preflight, middleware, shutdown). */
  seriesAtEnd(res: ServerResponse, _status: number, record: RequestRecord): void {
    const route = fastifyMatchedRoute(record.request as FastifyRequestLike | undefined);
    const method = res.req.method ?? 'GET';
    record.series =
      route?.url === undefined || route.config?.[CONTROLLER_ROUTE_CONFIG] !== true
        ? this.recorder.unmatchedSeries(method, res.req.url)
        : this.recorder.routeSeries(route.config, route.url, method, this);
  }
}
