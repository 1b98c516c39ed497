/**
 * Integration suite: the sample app, a real Prometheus, promtool, a Pushgateway and a Node
 * cluster, as separate processes (`npm run test:integration`, after `npm run build`).
 * ESM NestJS 12: run with NODE_OPTIONS=--experimental-vm-modules (see package.json scripts).
 */
export default {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.int-spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testTimeout: 120000,
  // The suites start servers and measure them: one at a time on a shared 2-core machine.
  maxWorkers: 1,
};
