// Fastify and @nestjs/platform-fastify behaviours that the default HTTP metrics rely on beyond
// their documented API. Each function says what it relies on, since which versions, and which
// test fails when it changes. `npm run test:matrix` runs those tests on Fastify 4 (NestJS 10) and
// Fastify 5 (NestJS 11 and 12).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { FASTIFY_ROUTE_CONFIG_METADATA } from './nest-constants.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Runs `before` ahead of Fastify's own handler of the server's `request` event, by replacing that
 * one listener. Returns false, having changed nothing, when the server does not have exactly one
 * `request` listener (then what Fastify's router answers before any hook goes uncounted).
 *
 * Relies on: Fastify creating its HTTP server with its router as the only `request` listener
 * (`http.createServer(httpHandler)`), and Nest's FastifyAdapter exposing it as `getHttpServer()`
 * before `listen()`. Fastify 4 and 5. Breaks: test/faults (undecodable URLs, over-long
 * parameters on Fastify), test/compat (a second listener).
 * A second listener is not added instead: with two, Node copies the listener array on every emit.
 */
export function wrapFastifyRequestListener(
  server: Server | undefined,
  before: (req: IncomingMessage, res: ServerResponse) => void,
): boolean {
  if (server === undefined || typeof server.listeners !== 'function') return false;
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length !== 1) return false;
  const handle = listeners[0];
  server.removeListener('request', handle);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    before(req, res);
    handle(req, res);
  });
  return true;
}

/** A route as Fastify's `onRoute` hook sees it. */
export interface FastifyRouteOptionsLike {
  url: string;
  config?: Record<string | symbol, unknown>;
  handler?: unknown;
}

/**
 * The route config Nest meant for a route, from the `onRoute` hook's route options, with the
 * given flags (set by the module on the handler's `@RouteConfig()` metadata) copied onto
 * `route.config` where Nest did not put them there.
 *
 * Relies on: Nest's FastifyAdapter turning a handler's `__fastify_route_config__` metadata into
 * the route's `config` in its method shorthands (`get`, `post`, ...: NestJS 9.3 to 12), and Nest
 * copying the handler method's metadata onto the function it registers (NestJS 10 to 12). The
 * FastifyAdapter of NestJS 10 and of 11 before 11.2 has no `all()` of its own: `@All()` routes
 * reach Fastify without a config, so the flags are read off the handler instead. Breaks: test/compat
 * (`@All()` routes labelled `__unmatched__`, `@DoNotTrack()` ignored on them).
 */
export function fastifyRouteConfig(
  route: FastifyRouteOptionsLike,
  flags: readonly string[],
): Record<string | symbol, unknown> | undefined {
  const handler = route.handler;
  const fromHandler =
    typeof handler === 'function'
      ? (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> | undefined)
      : undefined;
  if (fromHandler === undefined) return route.config;
  let config = route.config;
  for (const flag of flags) {
    if (fromHandler[flag] !== undefined && config?.[flag] === undefined) {
      config = { ...config, [flag]: fromHandler[flag] };
    }
  }
  if (config !== route.config) route.config = config;
  return config;
}

/** What a Fastify request says about the route it matched. */
export interface FastifyMatchedRoute {
  url?: string;
  config?: Record<string | symbol, unknown>;
}

/**
 * The route a request matched: its template and config, or undefined when it matched none.
 *
 * Relies on: `request.routeOptions` (Fastify 4.10+ and 5; older Fastify 4 had `routerPath` and
 * `context.config`, both removed in 5). Breaks: test/http-metrics (requests answered before their
 * route's hook, such as a guard's 403 or a middleware's 401, counted as unmatched on Fastify).
 */
export function fastifyMatchedRoute(
  request: { routeOptions?: FastifyMatchedRoute } | undefined,
): FastifyMatchedRoute | undefined {
  return request?.routeOptions;
}

/**
 * The config of the route a Fastify request matched, read from the route's context rather than
 * through `request.routeOptions`, a getter that builds a new object of twelve fields on every read
 * (Fastify 5). The config is the object Fastify made for the route from the options its `onRoute`
 * hooks saw (own symbol keys included): a value put there at `onRoute` is found here. Falls back to
 * `request.routeOptions.config` where the context is not found.
 *
 * Relies on: Fastify's request keeping its route's context in an own property keyed by a symbol
 * described `fastify.context`, whose `config` is built as `{ ...routeOptions.config, url, method }`
 * after the `onRoute` hooks ran. Fastify 4 and 5. Breaks: fastify-server.spec.ts (the context is
 * no longer found: `FastifyRouteContexts.found` is false; the metrics stay right, by the fallback).
 */
export class FastifyRouteContexts {
  /** The context's key: undefined until the first request is seen, null when Fastify has none. */
  private key: symbol | null | undefined = undefined;

  /** Whether the context was found (on the first request read). */
  get found(): boolean {
    return typeof this.key === 'symbol';
  }

  config(request: object): Record<string | symbol, unknown> | undefined {
    let key = this.key;
    if (key === undefined) key = this.key = findOwnSymbol(request, 'fastify.context');
    if (key !== null) {
      const context = (request as Record<symbol, { config?: Record<string | symbol, unknown> } | undefined>)[key];
      if (context !== undefined) return context.config;
    }
    return fastifyMatchedRoute(request)?.config;
  }
}

/** A Fastify reply, as far as its headers go. */
export interface FastifyReplyHeadersLike {
  getHeader(name: string): unknown;
}

/**
 * Reads a reply's `Content-Length` where Fastify keeps it until `writeHead`: `reply.getHeader()`
 * lowercases the name it is given on every call (about 250 instructions a request, measured with
 * bench/instructions.sh), and the raw response's `getHeader` cannot see headers Fastify passes to
 * `writeHead` in one object. Falls back to `reply.getHeader()` where that store is not found or
 * has no `content-length` (a header set on `reply.raw`), so the value is the same either way.
 *
 * Relies on: Fastify's reply keeping the headers it will send in an own property keyed by a symbol
 * described `fastify.reply.headers`, with lowercase names (`reply.header()` lowercases them, and
 * Fastify sets `content-length` there itself). Fastify 4 and 5. Breaks: fastify-server.spec.ts (the
 * store is no longer found: `FastifyReplyHeaders.found` is false; the sizes stay right, by the
 * fallback).
 */
export class FastifyReplyHeaders {
  /** The store's key: undefined until the first reply is seen, null when Fastify has none. */
  private key: symbol | null | undefined = undefined;

  /** Whether the store was found (on the first reply read). */
  get found(): boolean {
    return typeof this.key === 'symbol';
  }

  contentLength(reply: FastifyReplyHeadersLike): unknown {
    let key = this.key;
    if (key === undefined) key = this.key = findOwnSymbol(reply, 'fastify.reply.headers');
    if (key !== null) {
      const headers = (reply as unknown as Record<symbol, Record<string, unknown> | undefined>)[key];
      const value = headers?.['content-length'];
      if (value !== undefined) return value;
    }
    return reply.getHeader('content-length');
  }
}

/** The own symbol of `object` with that description whose value is an object, or null. */
function findOwnSymbol(object: object, description: string): symbol | null {
  for (const symbol of Object.getOwnPropertySymbols(object)) {
    if (symbol.description !== description) continue;
    const value: unknown = (object as Record<symbol, unknown>)[symbol];
    return typeof value === 'object' && value !== null ? symbol : null;
  }
  return null;
}

/**
 * Has `wrap` see every request that Nest's not-found handler answers, by wrapping the handler
 * Nest passes to the adapter's `setNotFoundHandler`. Returns false when the adapter has none.
 *
 * Relies on: Nest's RoutesResolver calling `httpAdapter.setNotFoundHandler(handler, prefix)` once
 * in `app.init()`, after `NestModule.configure()` (NestJS 10 to 12), and FastifyAdapter handing it
 * to Fastify. Breaks: test/http-metrics (404s on Fastify counted under the wrong series).
 */
export function wrapNotFoundHandler<H extends (...args: never[]) => unknown>(
  adapter: { setNotFoundHandler?(handler: H, ...rest: unknown[]): unknown },
  wrap: (handler: H) => H,
): boolean {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call() on its own object
  const setNotFoundHandler = adapter.setNotFoundHandler;
  if (typeof setNotFoundHandler !== 'function') return false;
  adapter.setNotFoundHandler = function (this: unknown, handler: H, ...rest: unknown[]) {
    return setNotFoundHandler.call(this, wrap(handler), ...rest);
  };
  return true;
}
