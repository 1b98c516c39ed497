import { EXCEPTION_FILTERS_METADATA, METHOD_METADATA } from '../compat/nest-constants.js';
import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { CONTROLLER_ROUTE_CONFIG, UNTRACKED_ROUTE_CONFIG } from './http.constants.js';
import { DO_NOT_TRACK_METADATA } from '../decorators/decorator.constants.js';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '../compat/nest-constants.js';
import { exceptionObserver } from './exception-spy.js';

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs after every controller instance exists and before Nest registers the routes (which read
 * each handler's metadata off `instance[method]`):
 * - marks the handlers `@DoNotTrack()` covers where the router keeps them: Nest copies a handler's
 *   metadata onto the function it gives Express, and turns `@RouteConfig()` metadata into Fastify's
 *   route config. So requests that never reach the handler (guard rejections, body-parser errors)
 *   are left out too. An inherited method that the class-level decorator covers gets a copy of its
 *   own on the instance, since the parent's function is shared with its other subclasses.
 * - puts the exception observer first among each route's exception filters;
 * - flags each route in its Fastify route config as a controller route (routes that plugins add,
 *   such as CORS preflight, are counted as unmatched, as on Express).
 */
export function prepareRoutes(discovery: DiscoveryService, scanner: MetadataScanner, reflector: Reflector): object[] {
  // Where route- and controller-level exception filters are declared, for `observeExceptionFilters`.
  const filterHolders: object[] = [];
  for (const wrapper of discovery.getControllers()) {
    // A request-scoped controller's instance here is the object Nest reads its routes from.
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance || typeof instance !== 'object') continue;
    const controller = instance.constructor;
    filterHolders.push(controller);
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const found = instance[name];
      if (typeof found !== 'function' || Reflect.getMetadata(METHOD_METADATA, found) === undefined) continue;
      let method = found as AnyMethod;
      const onMethod = reflector.get<boolean>(DO_NOT_TRACK_METADATA, method) === true;
      if (!onMethod && reflector.get<boolean>(DO_NOT_TRACK_METADATA, controller) === true) {
        if (!Object.prototype.hasOwnProperty.call(prototype, name)) {
          method = instance[name] = copyWithMetadata(method);
        }
        markUntracked(method);
      } else if (onMethod) {
        markUntracked(method);
      }
      setRouteConfig(method, CONTROLLER_ROUTE_CONFIG);
      filterHolders.push(method);
      const filters = (Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, method) as unknown[] | undefined) ?? [];
      // Nest consults a handler's filters last to first: the observer goes last.
      if (!filters.includes(exceptionObserver)) {
        Reflect.defineMetadata(EXCEPTION_FILTERS_METADATA, [...filters, exceptionObserver], method);
      }
    }
  }
  return filterHolders;
}

function markUntracked(method: object): void {
  Reflect.defineMetadata(DO_NOT_TRACK_METADATA, true, method);
  setRouteConfig(method, UNTRACKED_ROUTE_CONFIG);
}

function setRouteConfig(method: object, flag: string): void {
  const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, method) as object | undefined;
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [flag]: true }, method);
}

function copyWithMetadata(method: AnyMethod): AnyMethod {
  const copy = function (this: unknown, ...args: unknown[]): unknown {
    return method.apply(this, args);
  };
  for (const key of Reflect.getMetadataKeys(method)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, method), copy);
  }
  Object.defineProperty(copy, 'name', { value: method.name, configurable: true });
  return copy;
}
