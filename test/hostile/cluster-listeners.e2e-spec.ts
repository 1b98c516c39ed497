import 'reflect-metadata';
import { jest } from '@jest/globals';
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { PrometheusCluster } from '../../lib/index.js';
import { parseExposition, sampleValue } from '../utils/exposition.js';

/*
 * Many concurrent scrapes of a cluster (issue 19, item 14): the primary must not add listeners on
 * `cluster` per scrape (40 scrapes printed MaxListenersExceededWarning), and a worker that does not
 * answer must not print one warning per scrape.
 */

/**
 * A stand-in worker: answers the primary's collect requests with one counter, as a worker with
 * `forRoot({ cluster: true })` does, or never answers (SILENT=1).
 */
const WORKER_SCRIPT = `
process.on('message', message => {
  if (!message || message.type !== 'nestjs-prom-metrics:collect' || process.env.SILENT === '1') return;
  const metrics = [{ name: 'jobs_total', help: 'Jobs', type: 'counter', aggregator: 'sum', values: [{ labels: {}, value: 1 }] }];
  process.send({ type: 'nestjs-prom-metrics:collected', id: message.id, metrics });
});
process.send({ type: 'nestjs-prom-metrics:ready' });
`;

/** Polls until `condition` resolves true; fails after a generous deadline (the machine may be busy). */
async function until(condition: () => Promise<boolean>, what: string, deadlineMs = 30000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

describe('cluster primary under concurrent scrapes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prom-cluster-'));
  const script = join(dir, 'worker.cjs');
  writeFileSync(script, WORKER_SCRIPT);
  const workers: Worker[] = [];
  let primary: PrometheusCluster | undefined;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeAll(() => {
    cluster.setupPrimary({ exec: script, execArgv: [], silent: true });
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    await primary?.close();
    primary = undefined;
    for (const worker of workers.splice(0)) {
      if (worker.isDead()) continue;
      const exited = new Promise(resolve => worker.once('exit', resolve));
      worker.kill();
      await exited;
    }
    warnings.length = 0;
    jest.restoreAllMocks();
  });

  afterAll(() => {
    process.off('warning', onWarning);
    rmSync(dir, { recursive: true, force: true });
  });

  function fork(silent: boolean): Worker {
    const worker = cluster.fork({ SILENT: silent ? '1' : '0' });
    workers.push(worker);
    return worker;
  }

  /** jobs_total summed over the workers that answered one scrape. */
  async function jobsTotal(p: PrometheusCluster): Promise<number | undefined> {
    return sampleValue(parseExposition((await p.metrics()).body), 'jobs_total');
  }

  it('40 concurrent scrapes add no listener per scrape and print no MaxListenersExceededWarning', async () => {
    primary = await PrometheusCluster.setupPrimary({ timeoutMs: 10000 });
    const p = primary;
    fork(false);
    fork(false);
    await until(async () => (await jobsTotal(p)) === 2, 'both workers ready');
    const listeners = ['message', 'exit', 'disconnect'].map(event => cluster.listenerCount(event));
    const scrapes = Array.from({ length: 40 }, () => p.metrics());
    // Every scrape is now waiting for the workers.
    expect(['message', 'exit', 'disconnect'].map(event => cluster.listenerCount(event))).toEqual(listeners);
    const rendered = await Promise.all(scrapes);
    for (const r of rendered) expect(sampleValue(parseExposition(r.body), 'jobs_total')).toBe(2);
    // Warnings are emitted on the next tick.
    await new Promise(resolve => setImmediate(resolve));
    expect(warnings.filter(w => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it("the primary's metrics server listens on 127.0.0.1 unless host is given, and logs where", async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    primary = await PrometheusCluster.setupPrimary({ port: 0 });
    const address = primary.address();
    expect(address?.address).toBe('127.0.0.1');
    expect(log).toHaveBeenCalledWith(`metrics server listening on http://127.0.0.1:${address?.port}/metrics`);
  });

  it.each([0, 1.5])('rejects maxConcurrentScrapes: %j, naming the option', async bad => {
    await expect(PrometheusCluster.setupPrimary({ port: 0, maxConcurrentScrapes: bad })).rejects.toThrow(
      'PrometheusCluster.setupPrimary(): maxConcurrentScrapes must be a whole number >= 1',
    );
  });

  it('a worker that never answers is reported once for 40 concurrent scrapes, not 40 times', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    primary = await PrometheusCluster.setupPrimary({ timeoutMs: 500 });
    const p = primary;
    fork(false);
    fork(true);
    // The silent worker is ready once a scrape waits for it (and leaves it out).
    await until(async () => {
      warn.mockClear();
      await p.metrics();
      return warn.mock.calls.length > 0;
    }, 'the silent worker to be asked');
    const rendered = await Promise.all(Array.from({ length: 40 }, () => p.metrics()));
    for (const r of rendered) expect(sampleValue(parseExposition(r.body), 'jobs_total')).toBe(1);
    expect(warn.mock.calls.length).toBeLessThanOrEqual(1);
  });
});
