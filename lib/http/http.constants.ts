/**
 * Label value of requests that matched no route (`http.unmatchedRoutes: 'group'`).
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, 'http_requests_total', { route: UNMATCHED_ROUTE })).toBe(1);
 * ```
 * @public
 */
export const UNMATCHED_ROUTE = '__unmatched__';

/** Status label of requests whose client went away before the response ended (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/** Route config flag (Fastify) of handlers marked `@DoNotTrack()`, set at bootstrap. */
export const UNTRACKED_ROUTE_CONFIG = 'nestjs-prom-metrics:untracked';

/** Route config flag (Fastify) of every controller route, set at bootstrap. */
export const CONTROLLER_ROUTE_CONFIG = 'nestjs-prom-metrics:controller';
