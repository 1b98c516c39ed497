import type { RouteSeries } from './route-series.js';

/**
 * The record of each request in flight, by its `IncomingMessage`. Not a property on the request:
 * Express changes the request's prototype, after which adding a property costs V8 a map change
 * (measured: ~1.5 us per request, against ~0.2 us for the WeakMap).
 */
export const requestRecords = new WeakMap<object, RequestRecord>();

/** What is known of one request between its arrival and the end of its response. */
export class RequestRecord {
  /** `undefined`: not resolved yet; `null`: not counted. */
  series: RouteSeries | null | undefined = undefined;
  /** The series whose in-progress gauge this request incremented. */
  inProgress: RouteSeries | undefined = undefined;
  exception: string | undefined = undefined;
  /** Fastify's reply: it passes its headers to `writeHead`, where the raw `getHeader` cannot see them. */
  reply: { getHeader(name: string): unknown } | undefined = undefined;

  constructor(readonly start: number) {}
}

export interface RecordedRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}
