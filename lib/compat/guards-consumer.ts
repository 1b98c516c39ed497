import { GuardsConsumer } from '@nestjs/core/guards/guards-consumer.js';

/** The signature of `GuardsConsumer.prototype.tryActivate` (Nest 10 to 12). */
export type TryActivate = (
  this: GuardsConsumer,
  guards: unknown[],
  args: unknown[],
  instance: object,
  callback: (...args: unknown[]) => unknown,
  type?: string,
) => Promise<boolean>;

/**
 * Replaces Nest's one guard runner with `wrap(original)`, process-wide, once per `key`.
 *
 * Relies on: every guard of every context type (HTTP routes, microservice handlers, gateway
 * handlers, GraphQL resolvers) being run by `GuardsConsumer.prototype.tryActivate(guards, args,
 * instance, callback, type)` of `@nestjs/core/guards/guards-consumer.js`, called only for handlers
 * that have guards, with `type` the context type (`'http'`, `'rpc'`, `'ws'`, `'graphql'`), before
 * any interceptor; a deep import, not public API. Same shape in NestJS 10.4, 11.0, 11.2 and 12.5
 * (`npm run test:matrix`). Breaks: test/hostile/transports-guard-rejections (no rpc, ws or GraphQL
 * sample for a rejected call).
 */
export function wrapGuardActivation(key: string, wrap: (original: TryActivate) => TryActivate): void {
  const prototype = GuardsConsumer.prototype as unknown as { tryActivate: TryActivate & Record<symbol, unknown> };
  // Once per process, whichever app (or copy of the module: ESM and CommonJS) asks first.
  const mark = Symbol.for(key);
  if (prototype.tryActivate[mark] === true) return;
  const wrapped = wrap(prototype.tryActivate) as TryActivate & Record<symbol, unknown>;
  wrapped[mark] = true;
  prototype.tryActivate = wrapped;
}
