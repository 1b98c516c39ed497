/**
 * `npm test`: the e2e suites in test/ and the unit tests next to the code they test
 * (`lib/**\/*.spec.ts`). The shared settings are in jest.base.js.
 */
import { jestBase } from './jest.base.js';

const base = jestBase();

export default {
  ...base,
  roots: ['<rootDir>/test', '<rootDir>/lib'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  testPathIgnorePatterns: [...base.testPathIgnorePatterns, '/test/integration/', '/test/consumers/'],
};
