import { jest } from '@jest/globals';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * Lets Fastify's `app.inject()` run under Jest's ESM mode on Node < 24.9: light-my-request
 * `require()`s `cookie` 2, an ES module, which Jest's CommonJS loader refuses there. The module is
 * imported once through Jest's ESM loader and handed to `require()` as an explicit mock of that
 * very file (the real code, nothing replaced). Call it at the top of a test file, before the
 * first `inject()`.
 */
export async function allowInjectUnderJestEsm(): Promise<void> {
  // Resolved the way Fastify resolves them, wherever the package manager put them.
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const fromLightMyRequest = createRequire(fromFastify.resolve('light-my-request'));
  const cookiePath = fromLightMyRequest.resolve('cookie');
  const cookie: unknown = await import(pathToFileURL(cookiePath).href);
  jest.doMock(cookiePath, () => cookie);
}
