import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  Get,
  type INestApplication,
  type INestApplicationContext,
  Injectable,
  Logger,
} from '@nestjs/common';
import { jest } from '@jest/globals';
import { Gauge as PromGauge, Registry } from 'prom-client';
import request from 'supertest';
import {
  Counter,
  PrometheusMetricsServer,
  PrometheusModule,
  type PushgatewayOptions,
  PushgatewayService,
} from '../lib/index.js';
import { ADAPTERS, createApp, createContext } from './utils/app.js';
import { findSamples, parseExposition, sampleValue } from './utils/exposition.js';

@Controller('work')
class WorkController {
  @Get()
  work(): string {
    return 'done';
  }
}

@Injectable()
class BatchJob {
  @Counter({ name: 'batch_items_total', help: 'Items processed by the batch job' })
  processItem(): void {}
}

interface Received {
  method: string;
  url: string;
  body: string;
}

/** A stand-in for the Pushgateway: a real HTTP server that records what it gets and answers `status`. */
async function fakeGateway(status = 200): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(status).end(status >= 400 ? 'gateway says no' : '');
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise(resolve => server.close(() => resolve())),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(ADAPTERS)('metrics on a port of their own (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('serves the registry on its own server and not on the app', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, port: 0, host: '127.0.0.1' })],
      controllers: [WorkController],
    });
    const port = app.get(PrometheusMetricsServer).address()?.port as number;
    expect(port).toBeGreaterThan(0);

    await request(app.getHttpServer()).get('/work').expect(200);
    await request(app.getHttpServer()).get('/metrics').expect(404);

    const scraped = await get(port, '/metrics');
    expect(scraped.status).toBe(200);
    const exp = parseExposition(scraped.body);
    expect(sampleValue(exp, 'http_requests_total', { route: '/work', status_code: '200' })).toBe(1);
    // The app's 404 for /metrics is an unmatched request like any other.
    expect(sampleValue(exp, 'http_requests_total', { route: '__unmatched__', status_code: '404' })).toBe(1);

    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/work')).status).toBe(404);
    expect((await get(port, '/metrics/x')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    const head = await get(port, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');

    await app.close();
    app = undefined;
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('serves the app endpoint too when a path is given', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, port: 0, path: '/internal/metrics' }),
      ],
      controllers: [WorkController],
    });
    const port = app.get(PrometheusMetricsServer).address()?.port as number;
    await request(app.getHttpServer()).get('/work').expect(200);
    const onApp = parseExposition((await request(app.getHttpServer()).get('/internal/metrics').expect(200)).text);
    const onPort = parseExposition((await get(port, '/internal/metrics')).body);
    expect(sampleValue(onApp, 'http_requests_total', { route: '/work' })).toBe(1);
    expect(sampleValue(onPort, 'http_requests_total', { route: '/work' })).toBe(1);
    expect((await get(port, '/metrics')).status).toBe(404);
  });

  it('fails at bootstrap, naming the port, when the port is taken', async () => {
    const taken = http.createServer();
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(
        createApp(adapter, {
          imports: [
            PrometheusModule.forRoot({
              registry: new Registry(),
              defaultMetrics: { enabled: false },
              port,
              host: '127.0.0.1',
            }),
          ],
          controllers: [WorkController],
        }),
      ).rejects.toThrow(`PrometheusModule metrics server cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      await new Promise(resolve => taken.close(resolve));
    }
  });
});

describe.each(ADAPTERS)('exemplars (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });

  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const openMetrics = (a: INestApplication) =>
    request(a.getHttpServer())
      .get('/metrics')
      .set('Accept', 'application/openmetrics-text; version=1.0.0')
      .expect(200)
      .then(res => parseExposition(res.text, 'openmetrics'));

  it('attaches the trace id of the traceparent header, in OpenMetrics only', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, http: { exemplars: true } })],
      controllers: [WorkController],
    });
    const server = app.getHttpServer();
    await request(server).get('/work').set('traceparent', `00-${TRACE}-00f067aa0ba902b7-01`).expect(200);

    const exp = await openMetrics(app);
    const [counter] = findSamples(exp, 'http_requests_total', { route: '/work' });
    expect(counter.exemplar?.labels).toEqual({ trace_id: TRACE });
    expect(counter.exemplar?.value).toBe(1);
    expect(Math.abs((counter.exemplar?.timestamp ?? 0) - Date.now() / 1000)).toBeLessThan(60);
    const buckets = findSamples(exp, 'http_request_duration_seconds_bucket', { route: '/work' }).filter(
      s => s.exemplar,
    );
    expect(buckets).toHaveLength(1);
    expect(buckets[0].exemplar?.labels).toEqual({ trace_id: TRACE });
    // The exemplar sits in the bucket of its own value.
    expect(buckets[0].exemplar?.value).toBeLessThanOrEqual(
      buckets[0].labels.le === '+Inf' ? Infinity : Number(buckets[0].labels.le),
    );

    // Prometheus text has no exemplars: the strict parser rejects any.
    parseExposition((await request(server).get('/metrics').expect(200)).text);
  });

  it('leaves requests without a valid traceparent without exemplars', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, http: { exemplars: true } })],
      controllers: [WorkController],
    });
    await request(app.getHttpServer()).get('/work').expect(200);
    await request(app.getHttpServer())
      .get('/work')
      .set('traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)
      .expect(200);
    await request(app.getHttpServer()).get('/work').set('traceparent', 'garbage').expect(200);
    const exp = await openMetrics(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/work' })).toBe(3);
    expect(exp.samples.filter(s => s.exemplar)).toEqual([]);
  });

  it('a function that returns null (or anything but labels) gives no exemplar, and OpenMetrics scrapes stay valid', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry,
          defaultMetrics: { enabled: false },
          // As a JavaScript caller may write it: `span ? { trace_id } : null`.
          http: { exemplars: () => null as unknown as undefined },
        }),
      ],
      controllers: [WorkController],
    });
    await request(app.getHttpServer()).get('/work').expect(200);
    const exp = await openMetrics(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '/work' })).toBe(1);
    expect(exp.samples.filter(s => s.exemplar)).toEqual([]);
  });

  it('takes exemplar labels from a function; one that throws is reported once and the request succeeds', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry,
          defaultMetrics: { enabled: false },
          http: {
            exemplars: req => {
              const id = req.headers['x-request-id'];
              if (id === 'boom') throw new Error('no tracer');
              return typeof id === 'string' ? { request_id: id } : undefined;
            },
          },
        }),
      ],
      controllers: [WorkController],
    });
    await request(app.getHttpServer()).get('/work').set('x-request-id', 'boom').expect(200);
    await request(app.getHttpServer()).get('/work').set('x-request-id', 'boom').expect(200);
    await request(app.getHttpServer()).get('/work').set('x-request-id', 'abc').expect(200);
    const exp = await openMetrics(app);
    expect(findSamples(exp, 'http_requests_total', { route: '/work' })[0].exemplar?.labels).toEqual({
      request_id: 'abc',
    });
    expect(sampleValue(exp, 'http_requests_total', { route: '/work' })).toBe(3);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('http.exemplars threw'))).toHaveLength(1);
  });
});

describe('PushgatewayService', () => {
  let app: INestApplicationContext | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });

  const gatewayModule = (registry: Registry, pushgateway: PushgatewayOptions) =>
    PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, pushgateway });

  it('pushes the registry once more when the application context closes', async () => {
    const gateway = await fakeGateway();
    try {
      const registry = new Registry();
      app = await createContext({
        imports: [
          gatewayModule(registry, { url: gateway.url, jobName: 'nightly import', groupings: { shard: 'a/1' } }),
        ],
        providers: [BatchJob],
      });
      await app.init();
      for (let i = 0; i < 7; i++) app.get(BatchJob).processItem();
      await app.close();
      app = undefined;
      expect(gateway.received).toHaveLength(1);
      const [push] = gateway.received;
      expect(push.method).toBe('PUT');
      // A value with a slash goes base64url-encoded (the Pushgateway's `name@base64` form).
      expect(push.url).toBe(`/metrics/job/nightly%20import/shard@base64/${Buffer.from('a/1').toString('base64url')}`);
      expect(sampleValue(parseExposition(push.body), 'batch_items_total')).toBe(7);
    } finally {
      await gateway.close();
    }
  });

  it('pushes every intervalMs, and pushAdd/delete/push send POST/DELETE/PUT with the job and groupings given', async () => {
    const gateway = await fakeGateway();
    try {
      app = await createContext({
        imports: [
          gatewayModule(new Registry(), { url: gateway.url, jobName: 'job', intervalMs: 40, pushOnShutdown: false }),
        ],
      });
      await app.init();
      // At least two periodic pushes (a deadline, not a fixed wait: timers run late on a busy machine).
      const deadline = Date.now() + 20_000;
      while (gateway.received.length < 2 && Date.now() < deadline)
        await new Promise(resolve => setTimeout(resolve, 20));
      const periodic = gateway.received.length;
      expect(periodic).toBeGreaterThanOrEqual(2);
      expect(gateway.received.every(r => r.method === 'PUT' && r.url === '/metrics/job/job')).toBe(true);

      const pushgateway = app.get(PushgatewayService);
      await pushgateway.pushAdd({ groupings: { instance: 'x' } });
      await pushgateway.delete({ jobName: 'other' });
      await pushgateway.push();
      const explicit = gateway.received.slice(periodic).filter(r => r.method !== 'PUT' || r.url !== '/metrics/job/job');
      expect(explicit.map(r => `${r.method} ${r.url}`)).toEqual([
        'POST /metrics/job/job/instance/x',
        'DELETE /metrics/job/other',
      ]);
      await app.close();
      app = undefined;
      const after = gateway.received.length;
      await new Promise(resolve => setTimeout(resolve, 150));
      expect(gateway.received.length).toBe(after);
    } finally {
      await gateway.close();
    }
  });

  it('rejects explicit pushes the gateway refuses; automatic ones are logged and the app still closes', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const gateway = await fakeGateway(500);
    try {
      app = await createContext({ imports: [gatewayModule(new Registry(), { url: gateway.url, jobName: 'job' })] });
      await app.init();
      await expect(app.get(PushgatewayService).push()).rejects.toThrow('push failed with status 500, gateway says no');
      await app.close();
      app = undefined;
      expect(error.mock.calls.map(([m]) => String(m))).toEqual([
        `Pushgateway final push to ${gateway.url} failed: push failed with status 500, gateway says no`,
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('closes normally when the gateway refuses connections', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const port = await closedPort();
    app = await createContext({
      imports: [gatewayModule(new Registry(), { url: `http://127.0.0.1:${port}`, jobName: 'job', intervalMs: 20 })],
    });
    await app.init();
    // A periodic push has failed (a deadline, not a fixed wait), then the final one fails on close.
    const deadline = Date.now() + 20_000;
    while (error.mock.calls.length < 1 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20));
    await app.close();
    app = undefined;
    expect(error.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(
      error.mock.calls.every(([m]) => /Pushgateway (periodic|final) push to .* failed: .*ECONNREFUSED/.test(String(m))),
    ).toBe(true);
  });

  it('says how to configure it when there is no gateway', async () => {
    app = await createContext({
      imports: [PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false } })],
    });
    await app.init();
    await expect(app.get(PushgatewayService).push()).rejects.toThrow(
      'PushgatewayService: no Pushgateway configured (PrometheusModule.forRoot({ pushgateway: { url, jobName } }))',
    );
  });
});

describe('options of this section fail at bootstrap with the option named', () => {
  const cases: [string, Parameters<typeof PrometheusModule.forRoot>[0], string][] = [
    [
      'port out of range',
      { port: 70000 },
      'PrometheusModule options.port must be a whole number from 0 to 65535, not 70000',
    ],
    ['host without port', { host: '127.0.0.1' }, "PrometheusModule options.host needs a port (the metrics server's)"],
    [
      'pushgateway url',
      { pushgateway: { url: 'not a url', jobName: 'j' } },
      'PrometheusModule options.pushgateway.url must be an http(s) URL, not "not a url"',
    ],
    [
      'pushgateway job',
      { pushgateway: { url: 'http://gw:9091', jobName: '' } },
      'PrometheusModule options.pushgateway.jobName must be a non-empty string',
    ],
    [
      'pushgateway grouping',
      { pushgateway: { url: 'http://gw:9091', jobName: 'j', groupings: { 'bad-name': 'x' } } },
      'bad-name',
    ],
    [
      'cluster timeout',
      { cluster: { timeoutMs: -1 } },
      'PrometheusModule options.cluster.timeoutMs must be a number > 0',
    ],
  ];
  it.each(cases)('%s', async (_name, options, message) => {
    await expect(
      createContext({
        imports: [
          PrometheusModule.forRoot({ registry: new Registry(), defaultMetrics: { enabled: false }, ...options }),
        ],
      }).then(a => a.init()),
    ).rejects.toThrow(message);
  });
});

describe('cluster: true outside a cluster', () => {
  it('warns and serves this process’s own registry', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const registry = new Registry();
    const app = await createApp('express', {
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, cluster: true })],
      controllers: [WorkController],
    });
    try {
      await request(app.getHttpServer()).get('/work').expect(200);
      const exp = parseExposition((await request(app.getHttpServer()).get('/metrics').expect(200)).text);
      expect(sampleValue(exp, 'http_requests_total', { route: '/work' })).toBe(1);
      expect(warn.mock.calls.map(([m]) => String(m))).toContain(
        'cluster: true, but this process is not a cluster worker: /metrics serves its own registry',
      );
    } finally {
      await app.close();
      warn.mockRestore();
    }
  });
});

describe('enabled: false', () => {
  it('writes none of its own metrics to the registry: no overflow counter, no HTTP metrics, no default labels', async () => {
    const registry = new Registry();
    const app = await createApp('express', {
      imports: [
        PrometheusModule.forRoot({
          registry,
          enabled: false,
          defaultLabels: { service: 'x' },
          http: { exemplars: true },
        }),
      ],
      controllers: [WorkController],
    });
    try {
      await request(app.getHttpServer()).get('/work').expect(200);
      await request(app.getHttpServer()).get('/metrics').expect(404);
      // Only the metric a decorator declares for @InjectMetric, which keeps existing.
      expect(registry.getMetricsAsArray().map(m => m.name)).toEqual(['batch_items_total']);
      registry.registerMetric(new PromGauge({ name: 'probe', help: 'h', registers: [] }));
      expect(await registry.metrics()).not.toContain('service=');
    } finally {
      await app.close();
    }
  });
});
