import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLIENT_CLOSED_REQUEST, UNMATCHED_ROUTE } from '../prometheus.constants.js';
import type { ResolvedHttpOptions } from '../prometheus-options.js';
import type { HttpMetrics } from './http-metrics.js';
import { REQUEST_RECORD, RequestRecord, type RecordedRequest } from './request-record.js';
import { RouteSeries } from './route-series.js';

const UNMATCHED_KEY = Symbol('unmatched');

/** What an adapter's instrumentation tells the recorder about its router's routes. */
export interface RouteInspector<K> {
  /** Whether the route was marked `@DoNotTrack()` (asked once per route). */
  isUntracked(route: K): boolean;
  /** Finds the route of a request that no handler saw (answered before routing or by a guard). */
  seriesAtEnd?(req: IncomingMessage, status: number): RouteSeries | null;
}

/**
 * Counts each response once, at its end, from what the adapter's router knows; the
 * interceptor adds what only Nest knows (the handler's `@DoNotTrack()`, the error class).
 */
export class HttpMetricsRecorder {
  // Route identity (an Express Route, a Fastify route config) -> method -> series, or null when not counted.
  private readonly routes = new Map<unknown, Map<string, RouteSeries | null>>();

  constructor(
    private readonly metrics: HttpMetrics,
    private readonly options: ResolvedHttpOptions,
  ) {}

  /** Called at the request's arrival, before body parsing and routing. */
  begin(req: IncomingMessage & RecordedRequest): RequestRecord {
    const length = req.headers['content-length'];
    const record = new RequestRecord(performance.now(), length === undefined ? 0 : +length || 0);
    req[REQUEST_RECORD] = record;
    return record;
  }

  /** The series of a route the router matched, keyed by the router's own route object. */
  routeSeries<K>(key: K, template: string, method: string, inspector: RouteInspector<K> | undefined): RouteSeries | null {
    let byMethod = this.routes.get(key);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(key, byMethod);
    }
    let series = byMethod.get(method);
    if (series === undefined) {
      const untracked = inspector?.isUntracked(key) === true;
      series = untracked || this.isExcluded(template, method) ? null : this.createSeries(method, template);
      byMethod.set(method, series);
    }
    return series;
  }

  /** The series of a request that matched no route. */
  unmatchedSeries(method: string, url: string | undefined): RouteSeries | null {
    if (this.options.unmatchedRoutes === 'ignore') return null;
    if (this.options.excludePaths.length > 0 && url !== undefined) {
      const q = url.indexOf('?');
      if (this.isExcluded(q === -1 ? url : url.slice(0, q), method)) return null;
    }
    return this.routeSeries(UNMATCHED_KEY, UNMATCHED_ROUTE, method, undefined);
  }

  /** The handler is about to run (guards have passed): the request is in progress on its route. */
  enter(record: RequestRecord, series: RouteSeries | null | undefined): void {
    if (record.series === undefined) record.series = series;
    const s = record.series;
    if (s && !record.skip && record.inProgress === undefined) {
      s.inProgress.inc();
      record.inProgress = s;
    }
  }

  /** The response ended or the client went away; `inspector` finds the route if it is not known yet. */
  end(
    record: RequestRecord,
    res: ServerResponse,
    inspector?: RouteInspector<never>,
    contentLength: unknown = res.getHeader('content-length'),
  ): void {
    if (record.inProgress !== undefined) record.inProgress.inProgress.dec();
    if (record.skip) return;
    const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
    let series = record.series;
    if (series === undefined) series = inspector?.seriesAtEnd ? inspector.seriesAtEnd(res.req, status) : null;
    if (series === null) return;
    const seconds = (performance.now() - record.start) / 1000;
    const responseSize = contentLength === undefined ? 0 : Number(contentLength) || 0;
    series.observe(status, seconds, record.requestSize, responseSize, record.exception);
  }

  private createSeries(method: string, route: string): RouteSeries {
    return new RouteSeries(this.metrics, method, route, this.options.groupStatusCodes);
  }

  private isExcluded(path: string, method: string): boolean {
    if (this.options.excludeMethods.has(method)) return true;
    for (const p of this.options.excludePaths) {
      if (typeof p === 'string' ? p === path : ((p.lastIndex = 0), p.test(path))) return true;
    }
    return false;
  }
}
