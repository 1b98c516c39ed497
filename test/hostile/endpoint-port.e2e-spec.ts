import 'reflect-metadata';
import { jest } from '@jest/globals';
import http from 'node:http';
import { type CanActivate, type INestApplication, Logger, type ModuleMetadata } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { PrometheusMetricsServer, PrometheusModule } from '../../lib/index.js';
import { ADAPTERS, type AdapterName, createApp } from '../utils/app.js';
import { parseExposition } from '../utils/exposition.js';
import { captureLogs } from './support.js';

/*
 * The metrics port (issue 19, item 2): `guards` were silently not applied there, and it listened
 * on every interface without a word. Also item 1 on that port: a collect error that cannot be
 * described.
 */

class DenyAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

const GUARDS_AND_PORT =
  'PrometheusModule: guards protect the metrics endpoint on the application\'s port only, and "port" serves the metrics on a server of its own that they would not protect';

function get(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path, agent: false }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe.each(ADAPTERS)('the metrics port (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];
  let logs: string[];

  beforeEach(() => {
    logs = captureLogs('log');
  });

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()!.close();
    jest.restoreAllMocks();
  });

  async function boot(imports: ModuleMetadata['imports']) {
    const app = await createApp(adapter, { imports });
    apps.push(app);
    return app;
  }

  it.each([
    ['without path', {}],
    ['with a path on the app port too', { path: '/metrics' }],
  ])('rejects guards with port (%s) at bootstrap', (_what, extra) => {
    expect(() =>
      PrometheusModule.forRoot({ registry: new Registry(), port: 0, guards: [new DenyAll()], ...extra }),
    ).toThrow(GUARDS_AND_PORT);
  });

  it('rejects guards with a port from forRootAsync when the options resolve', async () => {
    await expect(
      boot([
        PrometheusModule.forRootAsync({
          useFactory: () => ({ registry: new Registry(), defaultMetrics: { enabled: false }, port: 0 }),
          guards: [DenyAll],
        }),
      ]),
    ).rejects.toThrow(GUARDS_AND_PORT);
  });

  it('listens on 127.0.0.1 by default, and logs where', async () => {
    const app = await boot([PrometheusModule.forRoot({ registry: new Registry(), port: 0 })]);
    const address = app.get(PrometheusMetricsServer).address();
    expect(address?.address).toBe('127.0.0.1');
    expect(logs).toContain(`metrics server listening on http://127.0.0.1:${address?.port}/metrics`);
    const res = await get('127.0.0.1', address!.port, '/metrics');
    expect(res.status).toBe(200);
    parseExposition(res.body);
  });

  it('listens on the host given for exposure', async () => {
    const app = await boot([
      PrometheusModule.forRoot({ registry: new Registry(), port: 0, host: '0.0.0.0', path: '/internal/metrics' }),
    ]);
    const address = app.get(PrometheusMetricsServer).address();
    expect(address?.address).toBe('0.0.0.0');
    expect(logs).toContain(`metrics server listening on http://0.0.0.0:${address?.port}/internal/metrics`);
  });

  it('serves the other metrics when a collect throws a value that cannot be described', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken_value',
      help: 'A gauge whose collect throws',
      registers: [registry],
      collect() {
        throw Object.create(null);
      },
    });
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const app = await boot([PrometheusModule.forRoot({ registry, port: 0 })]);
    const res = await get('127.0.0.1', app.get(PrometheusMetricsServer).address()!.port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toContain('prometheus_collect_errors_total{metric="broken_value"} 1');
    expect(res.body).not.toMatch(/^broken_value/m);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0][0])).toContain('collecting metric "broken_value" failed (');
  });
});
