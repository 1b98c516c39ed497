// Nest's internal metadata keys and types, imported from inside its packages (not from their
// index): every deep import of Nest goes through this file, so a Nest release that moves them
// breaks one import here, at build time, instead of several files.
//
// `@nestjs/common/constants.js` holds the keys that `@Get()`, `@UseFilters()`, `@Catch()` and
// `@UseInterceptors()` write; present with these names from NestJS 7 to 12 (checked on 10.4, 11.0,
// 11.1 and 12.5 by `npm run test:matrix`). NestJS 12 is an ES module whose `exports` map allows
// `./*.js`; 10 and 11 have no `exports` map. When a key is renamed, the import fails at startup;
// when its meaning changes: test/route-templates, test/faults (filters), test/decorators.
export {
  EXCEPTION_FILTERS_METADATA,
  FILTER_CATCH_EXCEPTIONS,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
} from '@nestjs/common/constants.js';

// The type of the wrappers `DiscoveryService` returns (a type only: erased from the build).
export type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';

// Metadata keys of Nest packages the module reads without importing them.

/** `@nestjs/platform-fastify`'s key for `@RouteConfig()`: Nest turns it into the route's config. */
export const FASTIFY_ROUTE_CONFIG_METADATA = '__fastify_route_config__';

/** `@nestjs/swagger`'s metadata of `@ApiExcludeController()`: set without importing the package. */
export const SWAGGER_EXCLUDE_CONTROLLER_METADATA = 'swagger/apiExcludeController';
