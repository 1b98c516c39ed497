import type { ServerResponse } from 'node:http';
// The module's own binding: the global `performance` is an accessor on globalThis, looked up on
// every call (about a third of the cost of `now()` on Node 20).
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { CLIENT_CLOSED_REQUEST, UNMATCHED_ROUTE } from './http.constants.js';
import type { HttpRequestInfo } from '../interfaces/index.js';
import type { ResolvedHttpOptions } from '../interfaces/resolved-options.interface.js';
import type { HttpMetrics } from './http-metrics.js';
import { takeObservedException } from './exception-spy.js';
import { type RecordedRequest, RequestRecord, requestExceptions } from './request-record.js';
import { RouteSeries } from './route-series.js';
import { exceptionName, matchesPattern } from '../core/label-values.js';
import { describeError } from '../core/describe-error.js';
import { isInjectedResponse } from '../compat/light-my-request.js';
import { sentContentLength } from '../compat/node-http.js';

const UNMATCHED_KEY = Symbol('unmatched');

/** An Express response or a Fastify reply, as the adapter's methods receive them. */
export interface ResponseLike {
  raw?: { req?: unknown };
  req?: unknown;
}

/**
 * Express 5 names wildcards (Nest registers `@Get('*')` as `{*path}`), Fastify does not (`*`):
 * the label uses `*` on both.
 */
function sameOnEveryAdapter(template: string): string {
  return template.includes('*') ? template.replace(/\{\*[^}]*\}|\*[A-Za-z_$][\w$]*/g, '*') : template;
}

function toSize(length: unknown): number {
  return length === undefined ? 0 : Number(length) || 0;
}

/**
 * The size of the request's body as received: its `Content-Length` once Node's parser has the
 * whole message (`complete`: the body was framed by that length), and otherwise (the response
 * came first: a client that gave up, a body refused unread) no more than the bytes its connection
 * carried, so that a declared length that never arrives cannot be recorded. Reads no body.
 */
function receivedBodySize(req: ServerResponse['req']): number {
  const declared = declaredBodySize(req);
  if (declared === 0 || req.complete) return declared;
  const received = (req.socket as { bytesRead?: unknown } | null)?.bytesRead;
  // Fastify's inject() has no real socket: its body is given whole, in memory.
  return typeof received === 'number' && received < declared ? received : declared;
}

/**
 * The request's `Content-Length`, read from its raw header lines: Node builds `req.headers` only
 * when something reads it, and on Fastify a GET request often passes without anything doing so
 * (building it lowercases and copies every header). Node's parser refuses differing duplicates.
 */
function declaredBodySize(req: ServerResponse['req']): number {
  const raw = req.rawHeaders as readonly unknown[] | undefined;
  if (!Array.isArray(raw)) return toSize(req.headers['content-length']);
  for (let i = 0; i < raw.length; i += 2) {
    const name: unknown = raw[i];
    // The two spellings clients send are compared first: lowercasing costs more than the compare.
    if (
      typeof name === 'string' &&
      name.length === 14 &&
      (name === 'Content-Length' || name === 'content-length' || name.toLowerCase() === 'content-length')
    ) {
      return toSize(raw[i + 1]);
    }
  }
  return 0;
}

/**
 * The size of the response's body as its `Content-Length` says: the one it was sent with (one field
 * read), or else the header set on it (headers not sent: a client that went away first; a chunked
 * response has none), where the adapter keeps it (Fastify) or on the raw response. Reads no body.
 */
function responseBodySize(res: ServerResponse, record: RequestRecord, inspector?: RouteInspector<never>): number {
  const sent = sentContentLength(res);
  if (typeof sent === 'number') return sent;
  return toSize(
    inspector?.contentLength === undefined ? res.getHeader('content-length') : inspector.contentLength(res, record),
  );
}

/**
 * Whether the response was sent whole (otherwise its client went away first: 499). Fastify's
 * `inject()` (light-my-request) writes to a socket of its own that drains only after the response's
 * `close`, so `writableFinished` never holds there: an injected response that ended was sent.
 */
function responseCompleted(res: ServerResponse): boolean {
  return res.writableFinished || (res.writableEnded && isInjectedResponse(res));
}

/** What an adapter's instrumentation tells the recorder about its router's routes. */
export interface RouteInspector<K> {
  /** Whether the route was marked `@DoNotTrack()` (asked once per route). */
  isUntracked(route: K): boolean;
  /**
   * Resolves `record.series` (and `record.inProgress`, if the route's handler entered it) of a
   * request whose route was not known when it began.
   */
  seriesAtEnd?(res: ServerResponse, status: number, record: RequestRecord): void;
  /**
   * The `Content-Length` header set on a response that was not sent with one (its client went away
   * first), for an adapter that keeps its headers away from the raw response (Fastify); otherwise
   * the raw response's header is read.
   */
  contentLength?(res: ServerResponse, record: RequestRecord): unknown;
}

/**
 * Counts each response once, at its end, from what the adapter's router knows about the route,
 * with the class of the exception Nest's exception layer handled for it, if any.
 */
export class HttpMetricsRecorder {
  // Route identity (an Express Route, a token per Fastify route) -> method -> series; null: not counted.
  private readonly routes = new Map<unknown, Map<string, RouteSeries | null>>();
  private readonly reported = new Set<string>();
  // Paths served outside Nest's router, each with the key its series are kept under.
  private readonly knownRoutes = new Map<string, { path: string }>();
  private readonly logger = new Logger('PrometheusModule');

  constructor(
    private readonly metrics: HttpMetrics,
    private readonly options: ResolvedHttpOptions,
  ) {}

  /**
   * Called at the request's arrival, before body parsing and routing: starts the clock and
   * counts the request when its response ends or its client goes away.
   */
  begin(res: ServerResponse, inspector?: RouteInspector<never>): RequestRecord {
    const record = new RequestRecord(performance.now());
    res.on('close', () => this.end(record, res, inspector));
    // HTTP/1.1 pipelining: a response queued behind another has no socket yet, and if the
    // connection closes it never emits `close`; its request does. Only queued responses pay for it.
    if (res.socket === null) res.req.on('close', () => this.endQueued(record, res, inspector));
    return record;
  }

  /**
   * As `begin()`, for an adapter that keeps the record where `closeListener` finds it (Fastify: on
   * the raw request) and passes it to `end()`: one listener function for all requests, where
   * `begin()` allocates a closure per request.
   */
  beginShared(
    res: ServerResponse,
    closeListener: (this: ServerResponse) => void,
    inspector: RouteInspector<never>,
  ): RequestRecord {
    const record = new RequestRecord(performance.now());
    res.on('close', closeListener);
    if (res.socket === null) res.req.on('close', () => this.endQueued(record, res, inspector));
    return record;
  }

  /** The series of a route the router matched, keyed by the router's own route object. */
  routeSeries<K>(
    key: K,
    template: string,
    method: string,
    inspector: RouteInspector<K> | undefined,
  ): RouteSeries | null {
    let byMethod = this.routes.get(key);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(key, byMethod);
    }
    let series = byMethod.get(method);
    if (series === undefined) {
      const untracked = inspector?.isUntracked(key) === true;
      const route = sameOnEveryAdapter(template);
      series = untracked || this.isExcluded(route, method) ? null : this.createSeries(method, route);
      byMethod.set(method, series);
    }
    return series;
  }

  /** A path that something other than Nest's router serves (the GraphQL endpoint): its own route label. */
  addKnownRoute(path: string): void {
    this.knownRoutes.set(path, { path });
  }

  /** The series of a request to a path served outside Nest's router (GraphQL), if it is one. */
  knownSeries(method: string, url: string | undefined): RouteSeries | null | undefined {
    if (this.knownRoutes.size === 0 || url === undefined) return undefined;
    const q = url.indexOf('?');
    const known = this.knownRoutes.get(q === -1 ? url : url.slice(0, q));
    return known === undefined ? undefined : this.routeSeries(known, known.path, method, undefined);
  }

  /** The series of a request that matched no route. */
  unmatchedSeries(method: string, url: string | undefined): RouteSeries | null {
    const known = this.knownSeries(method, url);
    if (known !== undefined) return known;
    if (this.options.unmatchedRoutes === 'ignore') return null;
    if (this.options.excludePaths.length > 0 && url !== undefined) {
      const q = url.indexOf('?');
      if (this.isExcluded(q === -1 ? url : url.slice(0, q), method)) return null;
    }
    return this.routeSeries(UNMATCHED_KEY, UNMATCHED_ROUTE, method, undefined);
  }

  /** The router handed the request to its route: from now on it is in progress there. */
  enterRoute(record: RequestRecord, series: RouteSeries | null): void {
    if (record.inProgress !== undefined) record.inProgress.inProgress.dec();
    record.inProgress = undefined;
    record.series = series;
    if (series !== null) {
      series.inProgress.inc();
      record.inProgress = series;
    }
  }

  /**
   * Called by the adapter right after Nest's exception layer (or a filter) asked for the
   * response's state or replied: ties the exception being handled to the request.
   */
  observeException(response: ResponseLike): void {
    const exception = takeObservedException();
    if (exception === undefined) return;
    const req = (response.raw ?? response).req as RecordedRequest | undefined;
    if (req !== undefined) requestExceptions.set(req, exceptionName(exception));
  }

  /** A user's exception filter is handling `exception` for this request (Express or Fastify request). */
  noteException(request: unknown, exception: unknown): void {
    const req = request as (RecordedRequest & { raw?: RecordedRequest }) | undefined;
    const raw = req?.raw ?? req;
    if (raw !== undefined) requestExceptions.set(raw, exceptionName(exception));
  }

  /**
   * A queued (pipelined) request closed: counted now if its connection is gone, since its response
   * will never close then. A request also closes once its body is read, with the connection alive:
   * its response's `close` counts it later.
   */
  private endQueued(record: RequestRecord, res: ServerResponse, inspector?: RouteInspector<never>): void {
    const socket = res.req.socket as { destroyed?: boolean } | null;
    if (socket === null || socket.destroyed === true) this.end(record, res, inspector);
  }

  /** The response ended or the client went away; `inspector` finds the route if it is not known yet. */
  end(record: RequestRecord, res: ServerResponse, inspector?: RouteInspector<never>): void {
    if (record.ended) return;
    record.ended = true;
    const status = responseCompleted(res) ? res.statusCode : CLIENT_CLOSED_REQUEST;
    if (record.series === undefined && inspector?.seriesAtEnd) inspector.seriesAtEnd(res, status, record);
    if (record.inProgress !== undefined) record.inProgress.inProgress.dec();
    let series = record.series;
    if (series === null || series === undefined) return;
    const seconds = (performance.now() - record.start) / 1000;
    const requestSize = receivedBodySize(res.req);
    const responseSize = responseBodySize(res, record, inspector);
    const exception = status >= 500 ? requestExceptions.get(res.req) : undefined;
    const exemplar = this.options.exemplars === false ? undefined : this.exemplar(res);
    if (this.options.labels !== undefined) series = series.variant(this.extraLabelValues(res));
    series.observe(status, seconds, requestSize, responseSize, exception, exemplar);
    if (this.options.observe.length > 0) {
      this.notify({
        method: series.method,
        route: series.route,
        statusCode: status,
        durationSeconds: seconds,
        requestSize,
        responseSize,
        exception,
        request: res.req,
        response: res,
      });
    }
  }

  /** The values of the extra `http.labels`, truncated as they will be recorded. */
  private extraLabelValues(res: ServerResponse): (string | number)[] {
    const { names, values } = this.options.labels as NonNullable<ResolvedHttpOptions['labels']>;
    const guard = this.metrics.guard;
    return values.map((fn, i) => {
      try {
        const value = fn(res.req);
        return guard.labelValue(typeof value === 'string' || typeof value === 'number' ? value : String(value));
      } catch (error) {
        this.reportOnce(`http.labels.${names[i]}`, error);
        return 'error';
      }
    });
  }

  private notify(info: HttpRequestInfo): void {
    this.options.observe.forEach((observer, i) => {
      try {
        observer(info);
      } catch (error) {
        this.reportOnce(`http.observe[${i}]`, error);
      }
    });
  }

  /** A user's callback threw: reported once per callback, and the request goes on. */
  private reportOnce(what: string, error: unknown): void {
    if (this.reported.has(what)) return;
    this.reported.add(what);
    this.logger.warn(`${what} threw (reported once): ${describeError(error)}`);
  }

  private exemplar(res: ServerResponse): Record<string, string> | undefined {
    try {
      const labels = (this.options.exemplars as (req: ServerResponse['req']) => unknown)(res.req);
      // Anything but an object of labels (`null` from a JS caller) would break every OpenMetrics scrape.
      return typeof labels === 'object' && labels !== null ? (labels as Record<string, string>) : undefined;
    } catch (error) {
      this.reportOnce('http.exemplars', error);
      return undefined;
    }
  }

  private createSeries(method: string, route: string): RouteSeries {
    return new RouteSeries(this.metrics, method, route, this.options.groupStatusCodes);
  }

  private isExcluded(path: string, method: string): boolean {
    if (this.options.excludeMethods.has(method)) return true;
    for (const p of this.options.excludePaths) {
      if (matchesPattern(p, path)) return true;
    }
    return false;
  }
}
