/**
 * README examples as tests (`npm run test:docs`, after `node test/docs/readme-blocks.mjs check`
 * has written them to test/docs/.generated/). `nestjs-prom-metrics` resolves to lib/, as the
 * type-check's paths do. ESM NestJS 12: run with NODE_OPTIONS=--experimental-vm-modules.
 */
export default {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  roots: ['<rootDir>/test/docs'],
  testMatch: ['**/*.docs-spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  moduleNameMapper: {
    '^nestjs-prom-metrics$': '<rootDir>/lib/index.ts',
    '^nestjs-prom-metrics/testing$': '<rootDir>/lib/testing/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/test/docs/tsconfig.json' }],
  },
  testTimeout: 30000,
};
