/**
 * What every jest config of this repo shares (jest.config.js, jest.docs.config.js,
 * jest.integration.config.js, jest.soak.config.js): ts-jest compiling TypeScript to ES modules, for
 * NestJS 12's ESM packages. Jest needs NODE_OPTIONS=--experimental-vm-modules for that (the
 * package.json scripts set it).
 *
 *   import { jestBase } from './jest.base.js';
 *   export default { ...jestBase(), roots: ['<rootDir>/test/soak'], testMatch: ['**\/*.soak-spec.ts'] };
 *
 * @param {{ tsconfig?: string }} [options] the tsconfig ts-jest compiles with (default: the root one)
 * @returns {import('jest').Config}
 */
export function jestBase({ tsconfig = '<rootDir>/tsconfig.json' } = {}) {
  return {
    rootDir: '.',
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleFileExtensions: ['ts', 'js', 'json'],
    testPathIgnorePatterns: ['/node_modules/'],
    // Sources import each other as `./x.js` (NodeNext); jest resolves the .ts beside it.
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig }] },
    testTimeout: 30000,
  };
}
