// Express's router internals that the default HTTP metrics read: none of this is Express's public
// API (Express documents `app.use()` and `req.route`, not the layers). Each function says what it
// relies on, since which versions, and which test fails when it changes. `npm run test:matrix`
// runs those tests on Express 4 (NestJS 10) and Express 5 (NestJS 11 and 12).

/** An Express route (`app.get(path, ...)`), as `req.route` and a layer's `route` hold it. */
export interface ExpressRouteLike<H = unknown> {
  path: string;
  stack: { handle: H }[];
  _handlesMethod?(method: string): boolean;
  _handles_method?(method: string): boolean;
}

/** One entry of the router's stack: a middleware or a route. */
export interface ExpressLayerLike {
  match(path: string): unknown;
}

/** Where Express 5 (`router`) and Express 4 (`_router`) keep the router. */
export interface ExpressRouterHolder<L> {
  router?: { stack: L[] };
  _router?: { stack: L[] };
}

/**
 * The router's stack of layers, or undefined when the app has none the module knows.
 *
 * Relies on: Express 5 keeping its router as `app.router` (created with the app), Express 4 as
 * `app._router` (created by the first `app.use()`; Express 4's `app.router` is a getter that
 * throws), each with a `stack` array in registration order. Express 4.x (NestJS 10) and 5.x
 * (NestJS 11, 12). Breaks: test/route-templates and test/express-without-request-hook (every
 * Express route would count as unmatched); the self-check warns.
 */
export function expressRouterStack<L>(app: ExpressRouterHolder<L> | undefined): L[] | undefined {
  if (app === undefined) return undefined;
  let router = app._router;
  if (router === undefined) {
    try {
      router = app.router;
    } catch {
      // Express 4 before its first route: no router yet.
      return undefined;
    }
  }
  const stack = router?.stack;
  return Array.isArray(stack) ? stack : undefined;
}

/**
 * Adds a middleware ahead of every layer registered so far (where the adapter has no request
 * hook, NestJS before 11.1). Returns false, having changed nothing, when the router is not found.
 *
 * Relies on: `app.use(fn)` appending one layer at the end of the stack, and Express running the
 * stack in array order. Express 4 and 5. Breaks: test/express-without-request-hook (body-parser
 * 400s and 404s would not be counted) and, on NestJS 10 and 11.0, every Express test.
 */
export function putExpressMiddlewareFirst<H, L>(
  app: ExpressRouterHolder<L> & { use(middleware: H): unknown },
  middleware: H,
): boolean {
  app.use(middleware);
  const stack = expressRouterStack(app);
  if (stack === undefined || stack.length === 0) return false;
  const last = stack.pop() as L;
  stack.unshift(last);
  return true;
}

/**
 * The layer of a route that holds the function Nest registered (its last one), or undefined.
 *
 * Relies on: `route.stack` holding one layer per handler given to `app.get(path, ...handlers)`,
 * each with a writable `handle`, the last one Nest's. Express 4 and 5. Breaks: test/http-metrics
 * (in-progress gauges), test/route-templates (`@DoNotTrack()` on Express).
 */
export function expressRouteHandlerLayer<H>(route: ExpressRouteLike<H>): { handle: H } | undefined {
  const stack = route.stack as { handle: H }[] | undefined;
  return Array.isArray(stack) && stack.length > 0 ? stack[stack.length - 1] : undefined;
}

/**
 * Every layer of a route that holds the function Nest registered: one for `app.get()` and the
 * other single-method routes, one per HTTP method for `@All()` (Express's `app.all(path, fn)`
 * adds the same function once per method to one route). Their `handle` is writable.
 *
 * Relies on: as `expressRouteHandlerLayer`, and `app.all()` looping over the methods (Express 4
 * and 5). Breaks: test/compat (`@All()` routes' in-progress gauge going negative on Express).
 */
export function expressRouteHandlerLayers<H>(route: ExpressRouteLike<H>): { handle: H }[] {
  const last = expressRouteHandlerLayer(route);
  return last === undefined ? [] : route.stack.filter(layer => layer.handle === last.handle);
}

/**
 * Whether the route answers this method.
 *
 * Relies on: `route._handlesMethod(method)` (Express 5) or `route._handles_method(method)`
 * (Express 4). Breaks: test/http-metrics (a malformed JSON body's 400 would count as unmatched on
 * Express).
 */
export function expressRouteHandlesMethod(route: ExpressRouteLike, method: string): boolean {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call() on its own object
  const handles = route._handlesMethod ?? route._handles_method;
  return typeof handles === 'function' && handles.call(route, method) === true;
}

/**
 * Whether the layer's path matches; a path Express cannot decode (`%E0%A4%A`) matches none.
 *
 * Relies on: `layer.match(path)` returning a truthy value for a match (Express 4: boolean,
 * Express 5: boolean) and throwing on a malformed escape. Breaks: test/http-metrics (malformed
 * JSON counted under its route), test/faults (undecodable paths).
 */
export function expressLayerMatches(layer: ExpressLayerLike, path: string): boolean {
  try {
    return Boolean(layer.match(path));
  } catch {
    return false;
  }
}

/**
 * A metadata value of a route's handler method, read off the function Nest gave the router.
 *
 * Relies on: Nest's RouterExplorer copying every metadata key of the handler method onto the
 * function it registers (`copyMetadataToCallback`, NestJS 10 to 12). Breaks: test/route-templates
 * (`@DoNotTrack()` on Express; controller routes not told apart from Nest's not-found route).
 */
export function expressRouteMetadata(route: ExpressRouteLike, key: string): unknown {
  const handle = expressRouteHandlerLayer(route)?.handle;
  return typeof handle === 'function' ? Reflect.getMetadata(key, handle) : undefined;
}
