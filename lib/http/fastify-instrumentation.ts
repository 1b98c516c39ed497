import type { IncomingMessage, ServerResponse } from 'node:http';
import { UNTRACKED_ROUTE_CONFIG } from '../prometheus.constants.js';
import type { HttpMetricsRecorder, RouteInspector } from './http-metrics.recorder.js';
import { REQUEST_RECORD, type RecordedRequest } from './request-record.js';

interface FastifyRequestLike {
  raw: IncomingMessage & RecordedRequest;
  routeOptions: { url?: string; config: Record<string | symbol, unknown> };
}
interface FastifyReplyLike {
  raw: ServerResponse & { [FASTIFY_REPLY]?: FastifyReplyLike };
  getHeader(name: string): unknown;
}

// Fastify passes its headers to `writeHead`, where the raw response's `getHeader` cannot see them.
const FASTIFY_REPLY = Symbol('nestjs-prom-metrics:reply');
interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void,
  ): unknown;
}

/**
 * Fastify: an `onRequest` hook (which Fastify runs for every route and for its 404 handler,
 * after routing) resolves the route and listens for the response's end on the raw response.
 */
export class FastifyInstrumentation implements RouteInspector<Record<string | symbol, unknown>> {
  constructor(private readonly recorder: HttpMetricsRecorder) {}

  install(instance: FastifyLike): void {
    const recorder = this.recorder;
    function onClose(
      this: ServerResponse & { req: IncomingMessage & RecordedRequest; [FASTIFY_REPLY]?: FastifyReplyLike },
    ): void {
      const record = this.req[REQUEST_RECORD];
      if (record !== undefined) recorder.end(record, this, undefined, this[FASTIFY_REPLY]?.getHeader('content-length'));
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const inspector = this;
    instance.addHook('onRequest', (request, reply, done) => {
      const raw = request.raw;
      const record = recorder.begin(raw);
      const route = request.routeOptions;
      const method = raw.method ?? 'GET';
      record.series =
        route.url === undefined
          ? recorder.unmatchedSeries(method, raw.url)
          : recorder.routeSeries(route.config, route.url, method, inspector);
      reply.raw[FASTIFY_REPLY] = reply;
      reply.raw.on('close', onClose);
      done();
    });
  }

  /** Fastify binds route handlers (losing their metadata), so untracked routes carry a route config flag. */
  isUntracked(config: Record<string | symbol, unknown>): boolean {
    return config[UNTRACKED_ROUTE_CONFIG] === true;
  }
}
