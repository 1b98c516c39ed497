/**
 * Integration suite: the sample app, a real Prometheus, promtool, a Pushgateway and a Node
 * cluster, as separate processes (`npm run test:integration`, after `npm run build`).
 * The shared settings are in jest.base.js.
 */
import { jestBase } from './jest.base.js';

export default {
  ...jestBase(),
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.int-spec.ts'],
  testTimeout: 120000,
  // The suites start servers and measure them: one at a time on a shared 2-core machine.
  maxWorkers: 1,
};
