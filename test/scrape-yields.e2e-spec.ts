import 'reflect-metadata';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { Controller, Get, type INestApplication, Injectable } from '@nestjs/common';
import { Gauge as PromGauge, Registry } from 'prom-client';
import { Counter, type MetricCallContext, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, createApp } from './utils/app.js';
import { parseExposition, sampleValue } from './utils/exposition.js';

const SERIES = 100_000;
// A deadline, not a measure: 100k series on a shared 2-core machine under other jobs (the version
// matrix) took over 120 s to set up and scrape twice; the assertions compare times within a test.
const DEADLINE_MS = 300_000;

@Injectable()
class Orders {
  @Counter({
    name: 'orders_seen_total',
    help: 'Orders seen, by order id (a label this large on purpose)',
    labels: { order: (ctx: MetricCallContext) => String(ctx.args[0]) },
  })
  see(_id: number): void {}
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

interface Timed {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
  /** `performance.now()` when the status line and headers arrived: the server had the whole body then. */
  answered: number;
  /** `performance.now()` when the last byte arrived. */
  ended: number;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, res => {
        const answered = performance.now();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            headers: res.headers,
            answered,
            ended: performance.now(),
          }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe.each(ADAPTERS)('a request arriving during a scrape of 100k series (%s)', adapter => {
  let app: INestApplication;
  let base: string;
  let onCollect: (() => void) | undefined;

  beforeAll(async () => {
    const registry = new Registry();
    // Its collect callback runs when a scrape starts rendering: the moment to send the request.
    new PromGauge({
      name: 'scrape_marker',
      help: 'Tells the test a scrape has started',
      registers: [registry],
      collect() {
        onCollect?.();
        this.set(1);
      },
    });
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, maxSeriesPerMetric: 2 * SERIES }),
      ],
      providers: [Orders],
      controllers: [PingController],
    });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const orders = app.get(Orders);
    for (let i = 0; i < SERIES; i++) orders.see(i);
  }, DEADLINE_MS);

  afterAll(() => app?.close());

  it('a scrape carries no ETag: computing one would hash the whole body on the event loop', async () => {
    const res = await get(`${base}/metrics?name[]=scrape_marker`);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(res.body.length));
    expect(parseExposition(res.body.toString()).families.has('scrape_marker')).toBe(true);
  });

  it(
    'a plain and a gzip scrape arriving during a rendering share the next one, which makes both bodies',
    async () => {
      let collects = 0;
      let signal: () => void = () => undefined;
      const started = new Promise<void>(resolve => (signal = resolve));
      onCollect = () => {
        collects++;
        signal();
      };
      const first = get(`${base}/metrics`);
      await started;
      const plain = get(`${base}/metrics`);
      const gzipped = get(`${base}/metrics`, { 'Accept-Encoding': 'gzip' });
      const [a, b, c] = await Promise.all([first, plain, gzipped]);
      onCollect = undefined;
      expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
      expect(collects).toBe(2);
      expect(b.headers['content-encoding']).toBeUndefined();
      expect(c.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(c.body).equals(b.body)).toBe(true);
      expect(b.body.equals(a.body)).toBe(true);
    },
    DEADLINE_MS,
  );

  it.each([
    ['text', {}],
    ['OpenMetrics, gzip', { Accept: 'application/openmetrics-text; version=1.0.0', 'Accept-Encoding': 'gzip' }],
  ])(
    '%s: the request is answered in a fraction of the scrape’s time, and the scrape is complete',
    async (_format, headers: Record<string, string>) => {
      const started = new Promise<void>(resolve => (onCollect = resolve));
      const scrape = get(`${base}/metrics`, headers);
      await started;
      onCollect = undefined;
      const sent = performance.now();
      const ping = await get(`${base}/ping`);
      const scraped = await scrape;

      expect(ping.status).toBe(200);
      expect(ping.body.toString()).toBe('pong');
      // The scrape is answered (its headers sent) once its body is rendered in full. Rendered in
      // one piece, it would hold the event loop until then, and the request would wait that long:
      // here it is answered in a fraction of that time.
      expect(ping.ended - sent).toBeLessThan((scraped.answered - sent) / 2);

      expect(scraped.status).toBe(200);
      const gzipped = scraped.headers['content-encoding'] === 'gzip';
      expect(gzipped).toBe(headers['Accept-Encoding'] === 'gzip');
      const text = (gzipped ? gunzipSync(scraped.body) : scraped.body).toString('utf8');
      const exp = parseExposition(text, headers.Accept ? 'openmetrics' : 'prometheus');
      expect(exp.samples.filter(s => s.name === 'orders_seen_total')).toHaveLength(SERIES);
      expect(sampleValue(exp, 'orders_seen_total', { order: String(SERIES - 1) })).toBe(1);
    },
    DEADLINE_MS,
  );
});
