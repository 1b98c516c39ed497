import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Whether the Fastify that `@nestjs/platform-fastify` uses answers a path parameter longer than
 * `maxParamLength` with 414 itself (`FST_ERR_MAX_PARAM_LENGTH`, Fastify 5.4 and later); older
 * Fastify (4, and 5.3 on NestJS 11.0) finds no route for it, so Nest's not-found handler answers 404.
 */
export function fastifyRefusesLongParameters(): boolean {
  const fastify = createRequire(require.resolve('@nestjs/platform-fastify'))('fastify') as {
    errorCodes?: Record<string, unknown>;
  };
  return fastify.errorCodes?.FST_ERR_MAX_PARAM_LENGTH !== undefined;
}

/** The major version of the `@nestjs/core` the tests run against (10, 11 or 12 in the matrix). */
export function nestMajor(): number {
  const { version } = require('@nestjs/core/package.json') as { version: string };
  return Number(version.split('.')[0]);
}
