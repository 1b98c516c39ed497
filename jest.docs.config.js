/**
 * README examples as tests (`npm run test:docs`, after `node test/docs/readme-blocks.mjs check`
 * has written them to test/docs/.generated/). `nestjs-prom-metrics` resolves to lib/, as the
 * type-check's paths do. The shared settings are in jest.base.js.
 */
import { jestBase } from './jest.base.js';

const base = jestBase({ tsconfig: '<rootDir>/test/docs/tsconfig.json' });

export default {
  ...base,
  moduleFileExtensions: [...base.moduleFileExtensions, 'mjs'],
  roots: ['<rootDir>/test/docs'],
  testMatch: ['**/*.docs-spec.ts'],
  moduleNameMapper: {
    '^nestjs-prom-metrics$': '<rootDir>/lib/index.ts',
    '^nestjs-prom-metrics/testing$': '<rootDir>/lib/testing/index.ts',
    ...base.moduleNameMapper,
  },
};
