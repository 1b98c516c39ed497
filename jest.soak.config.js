/** The soak test (test/soak): `npm run test:soak`. The shared settings are in jest.base.js. */
import { jestBase } from './jest.base.js';

export default {
  ...jestBase(),
  roots: ['<rootDir>/test/soak'],
  testMatch: ['**/*.soak-spec.ts'],
  testTimeout: 300000,
};
