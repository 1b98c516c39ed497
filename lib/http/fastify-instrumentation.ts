import type { IncomingMessage, ServerResponse } from 'node:http';
import { UNTRACKED_ROUTE_CONFIG } from '../prometheus.constants.js';
import type { HttpMetricsRecorder } from './http-metrics.recorder.js';
import type { RecordedRequest, RequestRecord } from './request-record.js';

type RawRequest = IncomingMessage & RecordedRequest & { [FASTIFY_RECORD]?: RequestRecord };

// Fastify leaves the raw request's prototype alone, so a property there is cheap.
const FASTIFY_RECORD = Symbol('nestjs-prom-metrics:record');
interface FastifyRequestLike {
  raw: RawRequest;
}
interface FastifyReplyLike {
  raw: ServerResponse;
  getHeader(name: string): unknown;
}
type Hook = ((request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void) & {
  [OWN_HOOK]?: true;
};
interface RouteOptionsLike {
  url: string;
  config?: Record<string | symbol, unknown>;
  onRequest?: Hook | Hook[];
}
interface FastifyLike {
  addHook(name: 'onRoute', hook: (route: RouteOptionsLike) => void): unknown;
}
type NotFoundHandler = (request: FastifyRequestLike, reply: FastifyReplyLike) => unknown;
/** What the module uses of Nest's `FastifyAdapter`. */
export interface FastifyAdapterLike {
  getInstance(): unknown;
  setNotFoundHandler(handler: NotFoundHandler, ...rest: unknown[]): unknown;
}

const OWN_HOOK = Symbol('nestjs-prom-metrics:hook');

/**
 * Fastify: an `onRequest` hook on each route (added as Nest registers it, so it knows its
 * template and costs no lookup) starts the clock and listens for the end of the raw response.
 * Routes `@DoNotTrack()` covers get no hook. Requests that match no route are recorded by
 * Nest's not-found handler.
 */
export class FastifyInstrumentation {
  constructor(private readonly recorder: HttpMetricsRecorder) {}

  /** Before the routes are registered. */
  install(adapter: FastifyAdapterLike): void {
    const recorder = this.recorder;
    const track = (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const record = recorder.begin(reply.raw);
      record.reply = reply;
      request.raw[FASTIFY_RECORD] = record;
      return record;
    };

    (adapter.getInstance() as FastifyLike).addHook('onRoute', route => {
      // Fastify derives a HEAD route from a GET route's options: drop the GET route's hook.
      const hooks = ([] as Hook[]).concat(route.onRequest ?? []).filter(h => !h[OWN_HOOK]);
      if (route.config?.[UNTRACKED_ROUTE_CONFIG] !== true) {
        const key = {};
        const template = route.url;
        const hook: Hook = (request, reply, done) => {
          const record = track(request, reply);
          recorder.enterRoute(record, recorder.routeSeries(key, template, request.raw.method ?? 'GET', undefined));
          done();
        };
        hook[OWN_HOOK] = true;
        hooks.push(hook);
      }
      route.onRequest = hooks;
    });

    const setNotFoundHandler = adapter.setNotFoundHandler;
    adapter.setNotFoundHandler = function (this: unknown, handler, ...rest) {
      const recorded: NotFoundHandler = (request, reply) => {
        const raw = request.raw;
        // A route can hand its request over to the not-found handler (an empty path parameter).
        const record = raw[FASTIFY_RECORD] ?? track(request, reply);
        recorder.enterRoute(record, null);
        record.series = recorder.unmatchedSeries(raw.method ?? 'GET', raw.url);
        return handler(request, reply);
      };
      return setNotFoundHandler.call(this, recorded, ...rest);
    };
  }
}
