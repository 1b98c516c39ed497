import 'reflect-metadata';
import { jest } from '@jest/globals';
import { type CanActivate, Controller, Get, type INestApplication } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusModule, type PrometheusModuleOptions } from '../../lib/index.js';
import { ADAPTERS, type AdapterName, createApp } from '../utils/app.js';
import { findSamples, parseExposition, sampleValue } from '../utils/exposition.js';
import { captureLogs, UNDESCRIBABLE_THROWS } from './support.js';

/*
 * Attacks on the scrape handler (issue 19): errors that cannot be described (item 1), scrape
 * amplification (item 8), oversized exemplars (item 10), Accept-Encoding with q-values (item 12).
 */

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

@Controller()
class ItemsController {
  @Get('items')
  items(): string[] {
    return ['a'];
  }
}

/** A guard that lets every scrape through and counts the scrapes that reached the endpoint. */
class ArrivalCounter implements CanActivate {
  static arrived = 0;
  canActivate(): boolean {
    ArrivalCounter.arrived++;
    return true;
  }
}

/** Polls until `condition` holds; fails after a generous deadline (the machine may be busy). */
async function until(condition: () => boolean, what: string, deadlineMs = 20000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** Gates still closed when a test ends (it failed): opened before its app closes. */
const openGates: (() => void)[] = [];

/** A gauge whose collection waits for `release()`: a scrape stays in flight as long as the test wants. */
function gatedGauge(registry: Registry) {
  let open!: () => void;
  let gate = new Promise<void>(resolve => (open = resolve));
  const state = { collects: 0, value: 1 };
  new Gauge({
    name: 'gated_value',
    help: 'A value collected behind a gate',
    registers: [registry],
    async collect() {
      state.collects++;
      await gate;
      this.set(state.value);
    },
  });
  openGates.push(() => open());
  return {
    state,
    release() {
      open();
      gate = Promise.resolve();
    },
  };
}

describe.each(ADAPTERS)('hostile scrapes (%s)', (adapter: AdapterName) => {
  const apps: INestApplication[] = [];

  async function boot(
    options: PrometheusModuleOptions = {},
    extras: { guards?: CanActivate[] } = {},
  ): Promise<INestApplication> {
    const app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          ...options,
          ...extras,
        }),
      ],
      controllers: [ItemsController],
    });
    apps.push(app);
    return app;
  }

  afterEach(async () => {
    jest.restoreAllMocks();
    for (const open of openGates.splice(0)) open();
    while (apps.length > 0) await apps.pop()!.close();
  });

  describe('a collect() that throws a value that cannot be described (item 1)', () => {
    // A failing collect no longer fails the scrape (the collect guard): the metric is served without
    // samples and counted, and the failure is logged once, described without throwing.
    it.each(UNDESCRIBABLE_THROWS)('serves the other metrics and logs it, for %s', async (_what, thrown) => {
      const registry = new Registry();
      new Gauge({
        name: 'broken_value',
        help: 'A gauge whose collect throws',
        registers: [registry],
        collect() {
          throw thrown();
        },
      });
      const errors = captureLogs('error');
      const app = await boot({ registry });
      await request(app.getHttpServer()).get('/items').expect(200);
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      const exp = parseExposition(res.text);
      expect(sampleValue(exp, 'http_requests_total', { route: '/items' })).toBe(1);
      expect(findSamples(exp, 'broken_value')).toEqual([]);
      expect(sampleValue(exp, 'prometheus_collect_errors_total', { metric: 'broken_value' })).toBe(1);
      expect(errors).toEqual([expect.stringContaining('collecting metric "broken_value" failed (')]);
    });
  });

  describe('Accept-Encoding (item 12)', () => {
    const cases: [string, boolean][] = [
      ['gzip;q=0, identity', false],
      ['gzip; q=0.000', false],
      ['identity, *;q=0', false],
      ['br, deflate', false],
      ['x-gzipped', false],
      ['*', true],
      ['GZIP', true],
      ['identity;q=0.5, gzip;q=0.001', true],
      ['*;q=0, gzip;q=1', true],
      ['gzip;q=0, *;q=1', false],
    ];

    it.each(cases)('Accept-Encoding %j: gzip %s', async (acceptEncoding, gzip) => {
      const app = await boot();
      const res = await request(app.getHttpServer()).get('/metrics').set('Accept-Encoding', acceptEncoding);
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe(gzip ? 'gzip' : undefined);
      parseExposition(res.text);
    });
  });

  describe('exemplars longer than OpenMetrics allows (item 10)', () => {
    it('drops them, keeping the OpenMetrics scrape valid and the last exemplar that fits', async () => {
      const app = await boot({
        http: { exemplars: req => ({ trace_id: String(req.headers['x-trace'] ?? '') }) },
      });
      const server = app.getHttpServer();
      await request(server).get('/items').set('x-trace', 'abc123').expect(200);
      // 8 + 120 = 128 characters: the most the label set may hold.
      await request(server).get('/items').set('x-trace', 'f'.repeat(120)).expect(200);
      // 8 + 121: one too many.
      await request(server).get('/items').set('x-trace', 'e'.repeat(121)).expect(200);
      const res = await request(server).get('/metrics').set('Accept', OPENMETRICS).expect(200);
      const exp = parseExposition(res.text, 'openmetrics');
      const [counter] = findSamples(exp, 'http_requests_total', { route: '/items' });
      expect(counter.value).toBe(3);
      expect(counter.exemplar?.labels).toEqual({ trace_id: 'f'.repeat(120) });
      for (const s of exp.samples) expect(s.exemplar?.labels.trace_id).not.toBe('e'.repeat(121));
    });

    it('counts code points, not UTF-16 units: 60 emoji fit', async () => {
      const app = await boot({ http: { exemplars: () => ({ trace_id: '\u{1F600}'.repeat(60) }) } });
      await request(app.getHttpServer()).get('/items').expect(200);
      const res = await request(app.getHttpServer()).get('/metrics').set('Accept', OPENMETRICS).expect(200);
      const [counter] = findSamples(parseExposition(res.text, 'openmetrics'), 'http_requests_total', {
        route: '/items',
      });
      expect(counter.exemplar?.labels).toEqual({ trace_id: '\u{1F600}'.repeat(60) });
    });
  });

  describe('scrape amplification (item 8)', () => {
    it('scrapes that arrive while a rendering runs share the next one', async () => {
      const registry = new Registry();
      const gated = gatedGauge(registry);
      ArrivalCounter.arrived = 0;
      const app = await boot({ registry }, { guards: [new ArrivalCounter()] });
      const server = app.getHttpServer();
      const first = request(server)
        .get('/metrics')
        .then(r => r);
      await until(() => gated.state.collects === 1, 'the first rendering to start');
      const joiners = Array.from({ length: 5 }, () =>
        request(server)
          .get('/metrics')
          .then(r => r),
      );
      await until(() => ArrivalCounter.arrived === 6, 'five more scrapes in flight');
      // The guard ran for all of them; the handler runs in the same tick of microtasks.
      await new Promise(resolve => setImmediate(resolve));
      gated.state.value = 2;
      gated.release();
      expect(sampleValue(parseExposition((await first).text), 'gated_value')).toBe(2);
      for (const res of await Promise.all(joiners)) {
        expect(res.status).toBe(200);
        expect(sampleValue(parseExposition(res.text), 'gated_value')).toBe(2);
      }
      expect(gated.state.collects).toBe(2);
      // Nothing is cached: the next scrape renders afresh.
      gated.state.value = 3;
      const next = await request(server).get('/metrics').expect(200);
      expect(sampleValue(parseExposition(next.text), 'gated_value')).toBe(3);
      expect(gated.state.collects).toBe(3);
    });

    it('the next rendering starts no sooner than the last one took after it ended', async () => {
      const registry = new Registry();
      const spans: { start: number; end: number }[] = [];
      new Gauge({
        name: 'slow_value',
        help: 'A gauge that takes 300 ms to collect',
        registers: [registry],
        async collect() {
          const start = Date.now();
          await new Promise(resolve => setTimeout(resolve, 300));
          spans.push({ start, end: Date.now() });
          this.set(1);
        },
      });
      const app = await boot({ registry });
      await request(app.getHttpServer()).get('/metrics').expect(200);
      await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(spans).toHaveLength(2);
      // The first rendering took at least 300 ms: the second waited at least that long (timer slack: 20 ms).
      expect(spans[1].start - spans[0].end).toBeGreaterThanOrEqual(280);
    });

    it('past maxConcurrentScrapes distinct renderings, answers 503 with Retry-After', async () => {
      const registry = new Registry();
      const gated = gatedGauge(registry);
      const app = await boot({ registry, maxConcurrentScrapes: 1 });
      const server = app.getHttpServer();
      const first = request(server)
        .get('/metrics')
        .then(r => r);
      await until(() => gated.state.collects === 1, 'the first scrape in flight');
      const other = await request(server).get('/metrics').set('Accept', OPENMETRICS);
      expect(other.status).toBe(503);
      expect(other.headers['retry-after']).toBe('1');
      expect(other.text).toBe('too many concurrent scrapes\n');
      gated.release();
      expect((await first).status).toBe(200);
      // Once it is done, the other format is served.
      const after = await request(server).get('/metrics').set('Accept', OPENMETRICS);
      expect(after.status).toBe(200);
      parseExposition(after.text, 'openmetrics');
    });

    it.each([0, 1.5, -1, '2'])('rejects maxConcurrentScrapes: %j at bootstrap, naming the option', async bad => {
      await expect(boot({ maxConcurrentScrapes: bad as number })).rejects.toThrow(
        'PrometheusModule options.maxConcurrentScrapes must be a whole number >= 1',
      );
    });
  });
});
