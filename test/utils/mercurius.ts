import { createRequire } from 'node:module';
import { jest } from '@jest/globals';

/**
 * Lets the running test file import `@nestjs/mercurius`. Mercurius requires @fastify/static, which
 * requires content-disposition 3, an ES module; Jest can only require() an ES module on Node 24.9
 * and later. Here the real module is loaded with import() and handed, as it is, to that require().
 * Call (and await) it before anything imports `@nestjs/mercurius`.
 */
export async function allowMercurius(): Promise<void> {
  // The @fastify/static that mercurius itself resolves: nested under mercurius where an install
  // holds several versions (the NestJS 11.0 line of `npm run test:matrix`).
  const requireFromMercurius = createRequire(createRequire(import.meta.url).resolve('mercurius'));
  const requireFromStatic = createRequire(requireFromMercurius.resolve('@fastify/static'));
  const path = requireFromStatic.resolve('content-disposition');
  const contentDisposition: unknown = await import(path);
  jest.doMock(path, () => contentDisposition);
}
