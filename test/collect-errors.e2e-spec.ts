import 'reflect-metadata';
import { type INestApplication, Logger } from '@nestjs/common';
import { Gauge as PromGauge, Histogram as PromHistogram, Registry } from 'prom-client';
import request from 'supertest';
import { makeCounterProvider, makeGaugeProvider, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, type AdapterName, createApp } from './utils/app.js';
import { type Exposition, parseExposition, sampleValue } from './utils/exposition.js';

/**
 * One metric whose collection fails (its collect throws or rejects) must not take /metrics down:
 * the others are served, the failure is logged once per metric and counted.
 */

const DATABASE = 'DATABASE';
const ERRORS = 'prometheus_collect_errors_total';

/** Captures the module's error logs (its Logger instances log through the prototype). */
function captureErrors(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  // Kept only to be put back on the prototype, never called detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = Logger.prototype.error;
  Logger.prototype.error = function capture(message: unknown) {
    lines.push(String(message));
  };
  return { lines, restore: () => (Logger.prototype.error = original) };
}

describe.each(ADAPTERS)('a failing collect callback (%s)', (adapter: AdapterName) => {
  let app: INestApplication;
  let registry: Registry;
  let logs: ReturnType<typeof captureErrors>;
  let databaseUp = false;

  beforeAll(async () => {
    logs = captureErrors();
    registry = new Registry();
    // A plain prom-client metric with a collect that throws something without a prototype:
    // describing it must not throw either.
    registry.registerMetric(
      new PromGauge({
        name: 'plain_broken',
        help: 'plain prom-client gauge',
        registers: [],
        collect() {
          throw Object.create(null);
        },
      }),
    );
    registry.registerMetric(
      new PromHistogram({
        name: 'broken_histogram',
        help: 'rejects',
        registers: [],
        collect: () => Promise.reject(new Error('histogram source gone')),
      }),
    );
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      providers: [
        { provide: DATABASE, useValue: { isUp: () => databaseUp, connections: () => 3 } },
        makeGaugeProvider({
          name: 'db_connections',
          help: 'Open connections',
          inject: [DATABASE],
          collect(db: { isUp(): boolean; connections(): number }) {
            if (!db.isUp()) throw new Error('database down');
            this.set(db.connections());
          },
        }),
        makeGaugeProvider({
          name: 'healthy_gauge',
          help: 'always works',
          collect() {
            this.set(1);
          },
        }),
        makeCounterProvider({ name: 'orders_total', help: 'Orders' }),
      ],
    });
  });

  afterAll(async () => {
    await app.close();
    logs.restore();
  });

  async function scrapeOk(headers: Record<string, string> = {}, path = '/metrics'): Promise<request.Response> {
    const req = request(app.getHttpServer()).get(path);
    for (const [name, value] of Object.entries(headers)) void req.set(name, value);
    const res = await req;
    expect(res.status).toBe(200);
    return res;
  }

  it('the other metrics are still served, and the failures of this scrape are counted in it', async () => {
    const exp: Exposition = parseExposition((await scrapeOk()).text);
    expect(sampleValue(exp, 'healthy_gauge')).toBe(1);
    expect(sampleValue(exp, 'orders_total')).toBe(0);
    // The failed metrics keep their HELP and TYPE, without samples.
    expect(exp.families.get('db_connections')?.samples).toEqual([]);
    expect(exp.families.get('plain_broken')?.samples).toEqual([]);
    expect(exp.families.get('broken_histogram')?.samples).toEqual([]);
    expect(sampleValue(exp, ERRORS, { metric: 'db_connections' })).toBe(1);
    expect(sampleValue(exp, ERRORS, { metric: 'plain_broken' })).toBe(1);
    expect(sampleValue(exp, ERRORS, { metric: 'broken_histogram' })).toBe(1);
  });

  it('OpenMetrics, gzip and ?name[]= scrapes are served too, and each failure counts', async () => {
    const om = parseExposition(
      (await scrapeOk({ Accept: 'application/openmetrics-text; version=1.0.0' })).text,
      'openmetrics',
    );
    expect(sampleValue(om, 'healthy_gauge')).toBe(1);
    const gz = await scrapeOk({ 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(sampleValue(parseExposition(gz.text), 'healthy_gauge')).toBe(1);
    const named = parseExposition((await scrapeOk({}, `/metrics?name[]=healthy_gauge&name[]=${ERRORS}`)).text);
    expect([...named.families.keys()].sort()).toEqual(['healthy_gauge', ERRORS]);
    // Scrapes 1 to 4: four failures of each broken metric.
    expect(sampleValue(named, ERRORS, { metric: 'db_connections' })).toBe(4);
    expect(sampleValue(named, ERRORS, { metric: 'plain_broken' })).toBe(4);
  });

  it('the registry as a cluster worker reads it (getMetricsAsJSON) resolves too', async () => {
    const json = await registry.getMetricsAsJSON();
    expect(json.find(m => m.name === 'healthy_gauge')?.values[0]?.value).toBe(1);
    expect(json.find(m => m.name === 'db_connections')?.values).toEqual([]);
  });

  it('each failing metric is logged once, naming it and describing the error', () => {
    const about = (name: string) => logs.lines.filter(l => l.includes(`"${name}"`));
    expect(about('db_connections')).toHaveLength(1);
    expect(about('db_connections')[0]).toContain('database down');
    expect(about('plain_broken')).toHaveLength(1);
    expect(about('plain_broken')[0]).toContain('a value that cannot be described');
    expect(about('broken_histogram')).toHaveLength(1);
    expect(about('broken_histogram')[0]).toContain('histogram source gone');
  });

  it('a collector that recovers is served again, with the injected dependency', async () => {
    databaseUp = true;
    const exp = parseExposition((await scrapeOk()).text);
    expect(sampleValue(exp, 'db_connections')).toBe(3);
    databaseUp = false;
  });
});
