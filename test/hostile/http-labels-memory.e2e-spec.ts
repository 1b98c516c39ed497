import 'reflect-metadata';
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Registry } from 'prom-client';
import { PrometheusModule } from '../../lib/index.js';
import { ADAPTERS, createApp, scrape } from '../utils/app.js';
import { findSamples, sampleValue } from '../utils/exposition.js';
import { portOf } from './support.js';

/*
 * Issue 19, item 5: `http.labels` values come from requests (the README's `x-tenant` example).
 * The extra label sets were cached by their raw, untruncated values, up to maxSeriesPerMetric
 * per route and method: 20,000 requests with 8 KB header values took the heap from 18 to 197 MB
 * while the series stayed capped. Label sets are now keyed by their truncated values, and capped
 * per metric: past the cap, new ones go to the overflow series without being kept.
 */

const ROUTES = 10;
const REQUESTS = 20_000;
const ALIKE = 2_000;
const CAP = 1000;
const VALUE_LENGTH = 8 * 1024;

// Ten routes, so that a cap per route would keep ten times the cap.
@Controller('t')
class TenantController {
  @Get('r0') r0(): string {
    return 'ok';
  }
  @Get('r1') r1(): string {
    return 'ok';
  }
  @Get('r2') r2(): string {
    return 'ok';
  }
  @Get('r3') r3(): string {
    return 'ok';
  }
  @Get('r4') r4(): string {
    return 'ok';
  }
  @Get('r5') r5(): string {
    return 'ok';
  }
  @Get('r6') r6(): string {
    return 'ok';
  }
  @Get('r7') r7(): string {
    return 'ok';
  }
  @Get('r8') r8(): string {
    return 'ok';
  }
  @Get('r9') r9(): string {
    return 'ok';
  }
}

/** A full garbage collection, then the heap in use (the flag is set at run time: no CLI option needed). */
function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Sends `count` GETs over a few keep-alive connections, `header(i)` as x-tenant. */
async function fire(port: number, count: number, header: (i: number) => string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await new Promise<void>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port, agent, path: `/t/r${i % ROUTES}`, headers: { 'x-tenant': header(i) } },
          res => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
}

describe.each(ADAPTERS)('http.labels from request headers, 8 KB values (%s)', adapter => {
  let app: INestApplication;
  beforeEach(async () => {
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry: new Registry(),
          defaultMetrics: { enabled: false },
          maxSeriesPerMetric: CAP,
          http: { labels: { tenant: req => String(req.headers['x-tenant']) } },
        }),
      ],
      controllers: [TenantController],
    });
    await app.listen(0, '127.0.0.1');
  });
  afterEach(() => app.close());

  it(`${REQUESTS} requests with distinct values: series capped per metric, memory bounded`, async () => {
    const port = portOf(app);
    const padding = 'x'.repeat(VALUE_LENGTH);
    await fire(port, 200, i => `warmup-${i}`);
    const before = heapAfterGc();
    await fire(port, REQUESTS, i => `${i}-${padding}`);
    const growthMb = (heapAfterGc() - before) / 1e6;

    const exp = await scrape(app);
    const series = findSamples(exp, 'http_requests_total');
    expect(series.length).toBeLessThanOrEqual(CAP + 1);
    expect(series.every(s => s.labels.tenant.length <= 128)).toBe(true);
    const counted = series.reduce((sum, s) => sum + s.value, 0);
    expect(counted).toBe(REQUESTS + 200);
    expect(sampleValue(exp, 'prometheus_series_overflow_total', { metric: 'http_requests_total' })).toBeGreaterThan(0);
    // 20,000 values of 8 KB are 160 MB; before the fix about 10 x 1000 of them stayed cached (80+ MB).
    expect(growthMb).toBeLessThan(25);
  }, 180_000);

  it(`${ALIKE} values alike in their first 128 characters are one label set, and memory stays flat`, async () => {
    const port = portOf(app);
    const prefix = 'acme-'.padEnd(200, '-');
    await fire(port, 200, i => `${prefix}${i}`);
    const before = heapAfterGc();
    await fire(port, ALIKE, i => `${prefix}${i}`.padEnd(VALUE_LENGTH, 'x'));
    const growthMb = (heapAfterGc() - before) / 1e6;

    const exp = await scrape(app);
    const tenants = new Set(findSamples(exp, 'http_requests_total').map(s => s.labels.tenant));
    expect([...tenants]).toEqual([prefix.slice(0, 128)]);
    expect(findSamples(exp, 'http_requests_total')).toHaveLength(ROUTES);
    // Before the fix each value was a label set of its own, cached with its 8 KB (about 16 MB).
    expect(growthMb).toBeLessThan(8);
  }, 120_000);
});
