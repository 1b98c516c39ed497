import type { RouteSeries } from './route-series.js';

/** What is known of one request between its arrival and the end of its response. */
export class RequestRecord {
  /** `undefined`: not resolved yet; `null`: not counted. */
  series: RouteSeries | null | undefined = undefined;
  /** The series whose in-progress gauge this request incremented. */
  inProgress: RouteSeries | undefined = undefined;
  /** Fastify's reply: it passes its headers to `writeHead`, where the raw `getHeader` cannot see them. */
  reply: { getHeader(name: string): unknown } | undefined = undefined;
  /** Fastify's request: its route options resolve, at the end, requests on routes not a controller's. */
  request: unknown = undefined;
  /** Counted already: a pipelined request can end by its request's `close` and its response's. */
  ended = false;

  constructor(readonly start: number) {}
}

/**
 * The class of the exception a request ended with, by its `IncomingMessage`: written on the error
 * path and read for 5xx responses only. Records themselves are held by the response's close
 * listener, not kept on the request: Express changes the request's prototype, after which each
 * added property costs V8 a map change (about 1.5 us a request here), and a WeakMap written for
 * every request made young-generation GC slower.
 */
export const requestExceptions = new WeakMap<object, string>();

export interface RecordedRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}
