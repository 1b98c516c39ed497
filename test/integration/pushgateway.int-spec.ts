/**
 * PushgatewayService against a real Prometheus Pushgateway: short-lived application contexts
 * (batch jobs) push their registry; what the gateway then serves is read back from its /metrics.
 */
import 'reflect-metadata';
import {
  Injectable,
  type INestApplicationContext,
  type LoggerService,
  Module,
  type ModuleMetadata,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import { Counter, PrometheusModule, type PushgatewayOptions, PushgatewayService } from '../../lib/index.js';
import { type Exposition, findSamples, parseExposition, sampleValue } from '../utils/exposition.js';
import { expectStatus, freePort, httpRequest, realProcess, sleep, startPushgateway, waitFor } from './harness.js';

@Injectable()
class BatchJob {
  @Counter({ name: 'batch_items_total', help: 'Items processed by the batch job' })
  processItem(): void {}
}

interface Logs {
  errors: string[];
  warnings: string[];
}

/** An application context (no HTTP) with the module on a registry of its own, logging into `logs`. */
async function batchContext(
  pushgateway: PushgatewayOptions,
  logs: Logs = { errors: [], warnings: [] },
  extra: ModuleMetadata = {},
): Promise<INestApplicationContext> {
  const logger: LoggerService = {
    log: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
    warn: (message: unknown) => void logs.warnings.push(String(message)),
    error: (message: unknown) => void logs.errors.push(String(message)),
    fatal: (message: unknown) => void logs.errors.push(String(message)),
  };
  @Module({
    imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false }, pushgateway })],
    providers: [BatchJob, ...(extra.providers ?? [])],
  })
  class BatchModule {}
  const app = await NestFactory.createApplicationContext(BatchModule, { logger, abortOnError: false });
  await app.init();
  return app;
}

let gateway: Awaited<ReturnType<typeof startPushgateway>>;

/** The gateway's own /metrics (pushed groups included), parsed strictly. */
async function gatewayMetrics(): Promise<Exposition> {
  const res = await httpRequest(`${gateway.url}/metrics`);
  expectStatus(res, 200, 'GET pushgateway /metrics');
  return parseExposition(res.body);
}

/** Pushes text-format metrics to a group by hand (curl-style), as another job would. */
async function pushByHand(method: 'PUT' | 'POST', path: string, body: string): Promise<void> {
  const res = await httpRequest(`${gateway.url}/metrics/${path}`, {
    method,
    headers: { 'content-type': 'text/plain; version=0.0.4' },
    body,
  });
  expectStatus(res, 200, `${method} /metrics/${path}`);
}

beforeAll(async () => {
  gateway = await startPushgateway();
});

afterAll(async () => {
  await gateway?.stop();
});

describe('PushgatewayService with a real Pushgateway', () => {
  it('a batch job that ends pushes its final counts on app.close(), under its job and grouping labels', async () => {
    const logs: Logs = { errors: [], warnings: [] };
    const app = await batchContext(
      { url: gateway.url, jobName: 'nightly import', groupings: { instance: 'worker-1', region: 'eu' } },
      logs,
    );
    const k = 7;
    for (let i = 0; i < k; i++) app.get(BatchJob).processItem();
    await app.close();

    const exp = await gatewayMetrics();
    const group = { job: 'nightly import', instance: 'worker-1', region: 'eu' };
    expect(sampleValue(exp, 'batch_items_total', group)).toBe(k);
    expect(sampleValue(exp, 'push_time_seconds', group)).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(sampleValue(exp, 'push_failure_time_seconds', group)).toBe(0);
    expect(exp.families.get('batch_items_total')).toMatchObject({
      type: 'counter',
      help: 'Items processed by the batch job',
    });
    expect(logs.errors).toEqual([]);
  });

  it('pushAdd adds to a group, push replaces the group, delete removes it', async () => {
    const app = await batchContext({ url: gateway.url, jobName: 'configured-job', pushOnShutdown: false });
    try {
      const service = app.get(PushgatewayService);
      const job = app.get(BatchJob);
      const groupA = { job: 'explicit', instance: 'a' };
      // Another process's metric in the same group.
      await pushByHand('PUT', 'job/explicit/instance/a', '# TYPE other_metric gauge\nother_metric 42\n');

      for (let i = 0; i < 3; i++) job.processItem();
      await service.pushAdd({ jobName: 'explicit', groupings: { instance: 'a' } });
      let exp = await gatewayMetrics();
      expect(sampleValue(exp, 'batch_items_total', groupA)).toBe(3);
      expect(sampleValue(exp, 'other_metric', groupA)).toBe(42);

      for (let i = 0; i < 2; i++) job.processItem();
      await service.push({ jobName: 'explicit', groupings: { instance: 'a' } });
      exp = await gatewayMetrics();
      expect(sampleValue(exp, 'batch_items_total', groupA)).toBe(5);
      expect(findSamples(exp, 'other_metric', groupA)).toEqual([]);

      await service.pushAdd({ jobName: 'explicit', groupings: { instance: 'b' } });
      await service.delete({ jobName: 'explicit', groupings: { instance: 'a' } });
      exp = await gatewayMetrics();
      expect(findSamples(exp, 'batch_items_total', groupA)).toEqual([]);
      expect(findSamples(exp, 'push_time_seconds', groupA)).toEqual([]);
      expect(sampleValue(exp, 'batch_items_total', { job: 'explicit', instance: 'b' })).toBe(5);
    } finally {
      await app.close();
    }
    // pushOnShutdown: false: the configured job never reached the gateway.
    expect(findSamples(await gatewayMetrics(), 'push_time_seconds', { job: 'configured-job' })).toEqual([]);
  });

  it('pushes every intervalMs while the app runs', async () => {
    const app = await batchContext({ url: gateway.url, jobName: 'periodic', intervalMs: 200, pushOnShutdown: false });
    try {
      const job = app.get(BatchJob);
      for (let i = 0; i < 4; i++) job.processItem();
      await waitFor(
        'the periodic push of 4',
        async () => sampleValue(await gatewayMetrics(), 'batch_items_total', { job: 'periodic' }) === 4,
        5000,
      );
      for (let i = 0; i < 3; i++) job.processItem();
      await waitFor(
        'the periodic push of 7',
        async () => sampleValue(await gatewayMetrics(), 'batch_items_total', { job: 'periodic' }) === 7,
        5000,
      );
    } finally {
      await app.close();
    }
  });

  it('a job name and grouping label values with a slash reach the gateway as they are', async () => {
    const app = await batchContext({
      url: gateway.url,
      jobName: 'reports/daily',
      groupings: { shard: 'eu/1' },
      pushOnShutdown: false,
    });
    try {
      app.get(BatchJob).processItem();
      await app.get(PushgatewayService).push();
      expect(sampleValue(await gatewayMetrics(), 'batch_items_total', { job: 'reports/daily', shard: 'eu/1' })).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('push() rejects when the gateway refuses the push (400: a metric inconsistent with another group)', async () => {
    // Another job pushed batch_items_total as a gauge: the gateway rejects our counter of that name.
    await gateway.wipe();
    await pushByHand(
      'PUT',
      'job/conflicting',
      '# HELP batch_items_total Something else\n# TYPE batch_items_total gauge\nbatch_items_total 1\n',
    );
    const app = await batchContext({ url: gateway.url, jobName: 'rejected', pushOnShutdown: false });
    try {
      app.get(BatchJob).processItem();
      await expect(app.get(PushgatewayService).push()).rejects.toThrow(/400/);
      // The gateway kept none of it, and recorded the failed push.
      const exp = await gatewayMetrics();
      expect(findSamples(exp, 'batch_items_total', { job: 'rejected' })).toEqual([]);
      expect(sampleValue(exp, 'push_time_seconds', { job: 'rejected' })).toBe(0);
      expect(sampleValue(exp, 'push_failure_time_seconds', { job: 'rejected' })).toBeGreaterThan(0);
    } finally {
      await app.close();
      const del = await httpRequest(`${gateway.url}/metrics/job/conflicting`, { method: 'DELETE' });
      expectStatus(del, 202, 'DELETE job/conflicting');
    }
  });

  it('a gateway that refuses connections: explicit pushes reject, automatic ones log, app.close() resolves', async () => {
    const port = await freePort(); // nothing listens there
    const logs: Logs = { errors: [], warnings: [] };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    realProcess().on('unhandledRejection', onUnhandled);
    try {
      const app = await batchContext(
        { url: `http://127.0.0.1:${port}`, jobName: 'unreachable', intervalMs: 100, timeoutMs: 1000 },
        logs,
      );
      await expect(app.get(PushgatewayService).pushAdd()).rejects.toThrow(/ECONNREFUSED/);
      app.get(BatchJob).processItem();
      await sleep(450);
      const periodicErrors = logs.errors.length;
      expect(periodicErrors).toBeGreaterThanOrEqual(2);
      await expect(app.close()).resolves.toBeUndefined();
      // The final push on shutdown failed too, and said so.
      expect(logs.errors.length).toBeGreaterThan(periodicErrors);
      expect(logs.errors.every(m => /Pushgateway/.test(m) && /ECONNREFUSED/.test(m))).toBe(true);
      await sleep(200);
      expect(unhandled).toEqual([]);
    } finally {
      realProcess().off('unhandledRejection', onUnhandled);
    }
  });
});
