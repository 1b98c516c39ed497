import type { RouteSeries } from './route-series.js';

/** Where the record of a request is kept on Node's `IncomingMessage`. */
export const REQUEST_RECORD = Symbol('nestjs-prom-metrics:request');

/** What is known of one request between its arrival and the end of its response. */
export class RequestRecord {
  /** `undefined`: not resolved yet; `null`: not counted. */
  series: RouteSeries | null | undefined = undefined;
  /** The series whose in-progress gauge this request incremented. */
  inProgress: RouteSeries | undefined = undefined;
  exception: string | undefined = undefined;

  constructor(
    readonly start: number,
    readonly requestSize: number,
  ) {}
}

export interface RecordedRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  [REQUEST_RECORD]?: RequestRecord;
}
