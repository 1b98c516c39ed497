import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import { resolvePrometheusOptions } from '../prometheus-options.js';
import { PrometheusRuntime } from '../runtime/prometheus-runtime.js';
import type { PrometheusService } from '../runtime/prometheus.service.js';
import { NO_STATUS_PEERS, type StatusSource } from '../runtime/status-source.js';
import { StatusPageService } from './status-page.service.js';

/** A service on its own registry, sampling as the app's bootstrap starts it. */
async function startedService(source: StatusSource = NO_STATUS_PEERS) {
  const registry = new Registry();
  const options = resolvePrometheusOptions({ registry, statusPage: { refreshSeconds: 5 } });
  const runtime = new PrometheusRuntime();
  const service = new StatusPageService(options, { registry } as PrometheusService, runtime, source);
  await runtime.run('bootstrap');
  return { service, runtime };
}

describe('StatusPageService', () => {
  afterEach(() => jest.useRealTimers());

  it('ticks on wall-clock multiples of refreshSeconds (so that cluster workers tick together)', async () => {
    // Started 1.7 s past a boundary.
    jest.useFakeTimers({ now: 1_700_000_001_700 });
    const { service, runtime } = await startedService();
    await jest.advanceTimersByTimeAsync(16_000);
    const view = await service.view();
    await runtime.run('shutdown');
    const [bootstrap, ...ticks] = view?.history.time ?? [];
    expect(bootstrap).toBe(1_700_000_001_700);
    expect(ticks).toEqual([1_700_000_005_000, 1_700_000_010_000, 1_700_000_015_000]);
  });

  it("a primary that does not answer: this worker's numbers alone, expected null, no error", async () => {
    const failing: StatusSource = { peers: () => Promise.reject(new Error('the cluster primary did not answer')) };
    const { service, runtime } = await startedService(failing);
    const view = await service.view();
    await runtime.run('shutdown');
    expect(view?.workers).toEqual({ answered: 1, expected: null });
    expect(view?.history.time).toHaveLength(1);
  });

  it("answers another worker's request with its snapshot once it samples, nothing when the page is off", async () => {
    const { runtime } = await startedService();
    const snapshot = (await runtime.statusSnapshot()) as { version: number; sections: unknown[] };
    await runtime.run('shutdown');
    expect(snapshot.version).toBe(1);
    const off = new PrometheusRuntime();
    const registry = new Registry();
    new StatusPageService(
      resolvePrometheusOptions({ registry }),
      { registry } as PrometheusService,
      off,
      NO_STATUS_PEERS,
    );
    await off.run('bootstrap');
    expect(await off.statusSnapshot()).toBeUndefined();
  });
});
