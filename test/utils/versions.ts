import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The major version of an installed package, resolved as `from` (a package) resolves it: the
 * matrix (`npm run test:matrix`) runs the suites on several NestJS lines, where a few behaviours
 * of Express and Fastify differ. `installedMajor('fastify', '@nestjs/platform-fastify')` is 4 on
 * NestJS 10, 5 on 11 and 12.
 */
export function installedMajor(name: string, from?: string): number {
  const resolve = from === undefined ? require : createRequire(require.resolve(from));
  const { version } = resolve(`${name}/package.json`) as { version: string };
  return Number(version.split('.')[0]);
}
