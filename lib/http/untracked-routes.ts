import { METHOD_METADATA } from '@nestjs/common/constants.js';
import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import {
  DO_NOT_TRACK_METADATA,
  FASTIFY_ROUTE_CONFIG_METADATA,
  UNTRACKED_ROUTE_CONFIG,
} from '../prometheus.constants.js';

/**
 * Before Nest registers the routes, marks every handler that `@DoNotTrack()` covers (on the method
 * or its controller) where the router keeps it: Nest copies a handler's metadata onto the function
 * it gives Express, and turns `@RouteConfig()` metadata into Fastify's route config. So requests
 * that never reach the interceptor (guard rejections, body-parser errors) are left out too.
 * `@DoNotTrack()` on a class marks only the methods declared in it: an inherited method is
 * shared with the parent's other subclasses (the interceptor still honours it at run time).
 */
export function markUntrackedRoutes(discovery: DiscoveryService, scanner: MetadataScanner, reflector: Reflector): void {
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as (abstract new (...args: never[]) => unknown) | null | undefined;
    if (typeof controller !== 'function') continue;
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const method = prototype[name];
      if (typeof method !== 'function' || Reflect.getMetadata(METHOD_METADATA, method) === undefined) continue;
      const own = Object.prototype.hasOwnProperty.call(prototype, name);
      const untracked =
        reflector.get<boolean>(DO_NOT_TRACK_METADATA, method) === true ||
        (own && reflector.get<boolean>(DO_NOT_TRACK_METADATA, controller) === true);
      if (!untracked) continue;
      Reflect.defineMetadata(DO_NOT_TRACK_METADATA, true, method);
      const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, method) as object | undefined;
      Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [UNTRACKED_ROUTE_CONFIG]: true }, method);
    }
  }
}
