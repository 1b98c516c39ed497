import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Controller, Get, type INestApplication, Param } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import request from 'supertest';
import { PrometheusModule, type PrometheusModuleOptions } from '../lib/index.js';
import { ADAPTERS, createApp, type AdapterName } from './utils/app.js';
import { parseExposition, sampleValue } from './utils/exposition.js';
import {
  decodeProtobufExposition,
  type DecodedFamily,
  labelsOf,
  nativeBuckets,
  PROMETHEUS_PROTOBUF_ACCEPT,
} from './utils/protobuf-exposition.js';

const PROTOBUF_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';
const DURATION = 'http_request_duration_seconds';

@Controller()
class ItemsController {
  @Get('items/:id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }
}

/** The response body as bytes, whatever its type (supertest would parse text and JSON). */
function binary(res: NodeJS.ReadableStream, done: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

describe.each(ADAPTERS)('native histograms and the protobuf exposition (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];

  async function boot(options: PrometheusModuleOptions): Promise<INestApplication> {
    const app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ defaultMetrics: { enabled: false }, ...options })],
      controllers: [ItemsController],
    });
    apps.push(app);
    return app;
  }

  async function scrapeProtobuf(app: INestApplication, path = '/metrics'): Promise<DecodedFamily[]> {
    const res = await request(app.getHttpServer())
      .get(path)
      .set('Accept', PROMETHEUS_PROTOBUF_ACCEPT)
      .buffer(true)
      .parse(binary as never)
      .expect(200);
    expect(res.headers['content-type']).toBe(PROTOBUF_TYPE);
    return decodeProtobufExposition(res.body as Buffer);
  }

  async function get(app: INestApplication, path: string): Promise<void> {
    await request(app.getHttpServer()).get(path).expect(200);
  }

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()!.close();
  });

  it('writes the request duration as a native histogram with the classic buckets alongside', async () => {
    const app = await boot({ registry: new Registry(), http: { nativeHistograms: true } });
    for (let i = 0; i < 5; i++) await get(app, `/items/${i}`);
    const families = await scrapeProtobuf(app);
    const duration = families.find(f => f.name === DURATION)!;
    expect(duration.type).toBe('HISTOGRAM');
    const series = duration.metric.find(m => labelsOf(m).route === '/items/:id')!;
    expect(labelsOf(series)).toEqual({ method: 'GET', route: '/items/:id', status_code: '200' });
    const h = series.histogram!;
    expect(h.sample_count).toBe(5);
    expect(h.sample_sum).toBeGreaterThan(0);
    expect(h.schema).toBe(3);
    expect(h.zero_threshold).toBe(2 ** -128);
    const buckets = nativeBuckets(h.positive_span, h.positive_delta);
    expect([...buckets.values()].reduce((a, b) => a + b, 0) + h.zero_count!).toBe(5);
    // Every native bucket lies within the observed range: (lowest bound, highest bound] holds the sum / count.
    const keys = [...buckets.keys()];
    const mean = h.sample_sum / 5;
    expect(2 ** ((Math.min(...keys) - 1) / 8)).toBeLessThan(mean);
    expect(2 ** (Math.max(...keys) / 8)).toBeGreaterThanOrEqual(mean);
    // The classic buckets, as the text format shows them (without +Inf, which sample_count implies).
    const text = parseExposition((await request(app.getHttpServer()).get('/metrics')).text);
    const classic = text.samples.filter(
      s => s.name === `${DURATION}_bucket` && s.labels.route === '/items/:id' && s.labels.le !== '+Inf',
    );
    expect(h.bucket.map(b => [b.upper_bound, b.cumulative_count])).toEqual(
      classic.map(s => [Number(s.labels.le), s.value]),
    );
    const requests = families.find(f => f.name === 'http_requests_total')!;
    expect(requests.type).toBe('COUNTER');
    expect(requests.metric.find(m => labelsOf(m).route === '/items/:id')!.counter!.value).toBe(5);
  });

  it('keeps only the native buckets with classicBuckets: false', async () => {
    const app = await boot({
      registry: new Registry(),
      http: { nativeHistograms: { classicBuckets: false, bucketFactor: 1.5, maxBuckets: 2 } },
    });
    for (let i = 0; i < 3; i++) await get(app, `/items/${i}`);
    const duration = (await scrapeProtobuf(app)).find(f => f.name === DURATION)!;
    const h = duration.metric.find(m => labelsOf(m).route === '/items/:id')!.histogram!;
    expect(h.bucket).toEqual([]);
    expect(h.sample_count).toBe(3);
    expect(h.schema).toBeLessThanOrEqual(1);
    expect(nativeBuckets(h.positive_span, h.positive_delta).size).toBeLessThanOrEqual(2);
    const text = parseExposition((await request(app.getHttpServer()).get('/metrics')).text);
    const buckets = text.samples.filter(s => s.name === `${DURATION}_bucket` && s.labels.route === '/items/:id');
    expect(buckets.map(s => s.labels.le)).toEqual(['+Inf']);
    expect(sampleValue(text, `${DURATION}_count`, { route: '/items/:id' })).toBe(3);
  });

  it('leaves text and OpenMetrics scrapes as they were: same lines as without native histograms, as prom-client renders them', async () => {
    const withNative = new Registry();
    const without = new Registry();
    const on = await boot({ registry: withNative, http: { nativeHistograms: true } });
    const off = await boot({ registry: without });
    for (const app of [on, off]) for (let i = 0; i < 3; i++) await get(app, `/items/${i}`);
    for (const accept of [undefined, 'application/openmetrics-text; version=1.0.0', 'text/plain']) {
      const scrapeOf = async (app: INestApplication) => {
        const r = request(app.getHttpServer()).get('/metrics');
        const res = await (accept === undefined ? r : r.set('Accept', accept)).expect(200);
        expect(res.headers['content-type']).not.toContain('protobuf');
        return res.text;
      };
      const onText = await scrapeOf(on);
      // Durations differ between the apps: compare everything but the sample values.
      const shape = (text: string) => text.replace(/ [-+\d.eE]+(?: [\d.]+)?$/gm, ' V').replace(/ NaN$/gm, ' V');
      expect(shape(onText)).toBe(shape(await scrapeOf(off)));
      if (accept === undefined) expect(onText).toBe(await withNative.metrics());
    }
  });

  it('encodes every prom-client metric type of the registry, with exemplars', async () => {
    // prom-client keeps exemplars only on an OpenMetrics registry.
    const OpenMetricsRegistry = Registry as unknown as new (contentType: string) => Registry;
    const registry = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
    const counter = new Counter({
      name: 'jobs_total',
      help: 'Jobs done',
      labelNames: ['queue'],
      registers: [registry],
      enableExemplars: true,
    });
    // prom-client's typings pick the wrong overload for an exemplar with labels: the call is as documented.
    counter.inc({ labels: { queue: 'a' }, value: 2, exemplarLabels: { trace_id: 'abc' } } as never);
    new Gauge({ name: 'temperature', help: 'Degrees', registers: [registry] }).set(-3.5);
    const histogram = new Histogram({
      name: 'job_seconds',
      help: 'Job time',
      labelNames: ['queue'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    histogram.observe({ queue: 'a' }, 0.05);
    histogram.observe({ queue: 'a' }, 5);
    const summary = new Summary({ name: 'job_size', help: 'Sizes', percentiles: [0.5], registers: [registry] });
    summary.observe(10);
    summary.observe(20);
    const app = await boot({ registry, http: false });
    const families = new Map((await scrapeProtobuf(app)).map(f => [f.name, f]));

    const jobs = families.get('jobs_total')!;
    expect([jobs.type, jobs.help]).toEqual(['COUNTER', 'Jobs done']);
    expect(labelsOf(jobs.metric[0])).toEqual({ queue: 'a' });
    expect(jobs.metric[0].counter!.value).toBe(2);
    const exemplar = jobs.metric[0].counter!.exemplar!;
    expect(labelsOf(exemplar)).toEqual({ trace_id: 'abc' });
    expect(exemplar.value).toBe(2);
    expect(Math.abs(exemplar.timestamp!.seconds - Date.now() / 1000)).toBeLessThan(600);

    expect(families.get('temperature')!.metric[0].gauge!.value).toBe(-3.5);

    const seconds = families.get('job_seconds')!;
    expect(seconds.type).toBe('HISTOGRAM');
    expect(seconds.metric).toHaveLength(1);
    expect(labelsOf(seconds.metric[0])).toEqual({ queue: 'a' });
    const h = seconds.metric[0].histogram!;
    expect([h.sample_count, h.sample_sum]).toEqual([2, 5.05]);
    expect(h.bucket.map(b => [b.upper_bound, b.cumulative_count])).toEqual([
      [0.1, 1],
      [1, 1],
    ]);
    // A classic histogram: no native fields, so Prometheus reads its buckets.
    expect(h.positive_span).toEqual([]);
    expect(h.zero_threshold).toBe(0);

    const sizes = families.get('job_size')!;
    expect(sizes.type).toBe('SUMMARY');
    expect(sizes.metric[0].summary).toEqual({
      sample_count: 2,
      sample_sum: 30,
      quantile: [{ quantile: 0.5, value: 15 }],
    });
  });

  it('filters families with ?name[]= and gzips for scrapers that accept it', async () => {
    const app = await boot({ registry: new Registry(), http: { nativeHistograms: true } });
    await get(app, '/items/1');
    const names = (await scrapeProtobuf(app, `/metrics?name[]=${DURATION}`)).map(f => f.name);
    expect(names).toEqual([DURATION]);
    const res = await request(app.getHttpServer())
      .get('/metrics')
      .set('Accept', PROMETHEUS_PROTOBUF_ACCEPT)
      .set('Accept-Encoding', 'gzip')
      .buffer(true)
      .parse(binary as never)
      .expect(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    // supertest may or may not have decompressed: gunzip only what still carries the gzip magic.
    const body = res.body as Buffer;
    const raw = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
    expect(decodeProtobufExposition(raw).map(f => f.name)).toContain(DURATION);
  });

  it('answers text to scrapers that rank protobuf below text or do not ask for it', async () => {
    const app = await boot({ registry: new Registry(), http: { nativeHistograms: true } });
    for (const accept of [
      'text/plain;version=0.0.4;q=0.9,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text',
      'application/vnd.google.protobuf',
      '*/*',
    ]) {
      const res = await request(app.getHttpServer()).get('/metrics').set('Accept', accept).expect(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    }
  });

  it('records outbound request durations as native histograms with httpClient.nativeHistograms', async () => {
    const upstream = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200).end('ok');
    });
    await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    try {
      const app = await boot({
        registry: new Registry(),
        http: false,
        httpClient: { enabled: true, hosts: [host], nativeHistograms: { bucketFactor: 1.5 } },
      });
      for (let i = 0; i < 3; i++) await (await fetch(`http://${host}/`)).text();
      const family = (await scrapeProtobuf(app)).find(f => f.name === 'http_client_request_duration_seconds');
      const series = family?.metric.find(m => labelsOf(m).host === host);
      expect(series?.histogram?.sample_count).toBe(3);
      expect(series?.histogram?.schema).toBe(1);
      const buckets = nativeBuckets(series?.histogram?.positive_span ?? [], series?.histogram?.positive_delta ?? []);
      expect([...buckets.values()].reduce((a, b) => a + b, 0)).toBe(3);
    } finally {
      await new Promise(resolve => upstream.close(resolve));
    }
  });

  it.each([
    [
      'rpc',
      { rpc: { nativeHistograms: { bucketFactor: 0.9 } } },
      /rpc\.nativeHistograms\.bucketFactor must be a number > 1/,
    ],
    [
      'ws',
      { ws: { nativeHistograms: { zeroThreshold: -0.1 } } },
      /ws\.nativeHistograms\.zeroThreshold must be a number >= 0/,
    ],
    [
      'graphql',
      { graphql: { nativeHistograms: { maxBuckets: 0 } } },
      /graphql\.nativeHistograms\.maxBuckets must be a whole number >= 1/,
    ],
    [
      'httpClient',
      { httpClient: { enabled: true, nativeHistograms: { maxBuckets: -3 } } },
      /httpClient\.nativeHistograms\.maxBuckets must be a whole number >= 1/,
    ],
  ])('fails at bootstrap on %s.nativeHistograms out of range', async (_name, options, message) => {
    await expect(boot({ registry: new Registry(), ...(options as PrometheusModuleOptions) })).rejects.toThrow(message);
  });

  it.each([
    [{ bucketFactor: 1 }, /http\.nativeHistograms\.bucketFactor must be a number > 1/],
    [{ bucketFactor: 0.5 }, /http\.nativeHistograms\.bucketFactor/],
    [{ zeroThreshold: -1 }, /http\.nativeHistograms\.zeroThreshold must be a number >= 0/],
    [{ maxBuckets: 0 }, /http\.nativeHistograms\.maxBuckets must be a whole number >= 1/],
    [{ maxBuckets: 2.5 }, /http\.nativeHistograms\.maxBuckets/],
    [{ classicBuckets: 'no' }, /http\.nativeHistograms\.classicBuckets must be a boolean/],
    [{ bucketfactor: 1.1 }, /http\.nativeHistograms\.bucketfactor is not an option/],
    ['yes', /http\.nativeHistograms must be true, false or an object/],
  ])('fails at bootstrap on nativeHistograms: %p', async (nativeHistograms, message) => {
    await expect(
      boot({ registry: new Registry(), http: { nativeHistograms: nativeHistograms as never } }),
    ).rejects.toThrow(message);
  });
});
