import 'reflect-metadata';
import type { Server } from 'node:http';
import { All, Controller, Get, type INestApplication, Param } from '@nestjs/common';
import { ExceptionsHandler } from '@nestjs/core/exceptions/exceptions-handler.js';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { DoNotTrack, UNMATCHED_ROUTE } from '../lib/index.js';
import { type AdapterName, ADAPTERS, createApp, isolatedPrometheus, readRegistry } from './utils/app.js';
import { CapturingLogger } from './utils/capturing-logger.js';
import { findSamples, sampleValue, sumOf } from './utils/exposition.js';

// The behaviours of Nest, Express and Fastify that lib/compat/ relies on, checked on whichever
// versions are installed: `npm run test:matrix` runs this file on NestJS 10.4, 11.0, 11.x and 12.

@Controller('anything')
class AnyMethodController {
  @All('any')
  any(): string {
    return 'any';
  }

  @All('quiet')
  @DoNotTrack()
  quiet(): string {
    return 'quiet';
  }

  @Get('item/:id')
  item(@Param('id') id: string): string {
    return id;
  }
}

const CONTEXT = 'PrometheusModule';

/** Whether the installed adapter has the request hook slot (@nestjs/platform-* 11.1 and later). */
function lineHasRequestHook(adapter: AdapterName): boolean {
  const prototype = (adapter === 'express' ? ExpressAdapter : FastifyAdapter).prototype as {
    setOnRequestHook?: unknown;
  };
  return typeof prototype.setOnRequestHook === 'function';
}

/** An app logging into `logger`; `prepare` runs on the adapter and the app before `init()`. */
async function createLoggedApp(
  adapter: AdapterName,
  registry: Registry,
  logger: CapturingLogger,
  prepare?: (httpAdapter: ExpressAdapter | FastifyAdapter, app: INestApplication) => void,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [isolatedPrometheus(registry)],
    controllers: [AnyMethodController],
  }).compile();
  const httpAdapter = adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = moduleRef.createNestApplication(httpAdapter, { logger });
  prepare?.(httpAdapter, app);
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/**
 * Boots with Nest's exception-filter selection replaced by one that answers every exception itself
 * and consults no filter (as a Nest release that changed it would), then puts Nest's back.
 */
async function withFilterSelectionBypassed<T>(boot: () => Promise<T>): Promise<T> {
  const prototype = ExceptionsHandler.prototype as unknown as { next: (...args: unknown[]) => unknown };
  const next = prototype.next;
  prototype.next = function () {
    return undefined;
  };
  try {
    return await boot();
  } finally {
    prototype.next = next;
  }
}

describe.each(ADAPTERS)('@All() routes (%s)', adapter => {
  let app: INestApplication;
  const registry = new Registry();

  beforeAll(async () => {
    app = await createApp(adapter, { imports: [isolatedPrometheus(registry)], controllers: [AnyMethodController] });
  });
  afterAll(() => app.close());

  // NestJS 10's and early 11's FastifyAdapter has no all() of its own: the route reaches Fastify without
  // the route config Nest's method shorthands add, which the module reads its flags from.
  it('are labelled with their template, per method, never as unmatched', async () => {
    const server = app.getHttpServer();
    await request(server).get('/anything/any').expect(200);
    // @All() answers 200 to every method, POST included (Nest's default 201 is @Post()'s).
    await request(server).post('/anything/any').expect(200);
    await request(server).delete('/anything/any').expect(200);
    const exp = await readRegistry(registry);
    const count = (method: string, status: string) =>
      sampleValue(exp, 'http_requests_total', { method, route: '/anything/any', status_code: status });
    expect(count('GET', '200')).toBe(1);
    expect(count('POST', '200')).toBe(1);
    expect(count('DELETE', '200')).toBe(1);
    expect(findSamples(exp, 'http_requests_total', { route: UNMATCHED_ROUTE })).toEqual([]);
    expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);
  });

  it('@DoNotTrack() leaves an @All() route out', async () => {
    const server = app.getHttpServer();
    await request(server).get('/anything/quiet').expect(200);
    await request(server).put('/anything/quiet').expect(200);
    const exp = await readRegistry(registry);
    expect(findSamples(exp, 'http_requests_total', { route: '/anything/quiet' })).toEqual([]);
    expect(findSamples(exp, 'http_requests_total', { route: UNMATCHED_ROUTE })).toEqual([]);
  });
});

describe.each(ADAPTERS)('bootstrap self-check (%s)', adapter => {
  it('logs nothing when every contact point behaves as expected', async () => {
    const logger = new CapturingLogger();
    const registry = new Registry();
    const app = await createLoggedApp(adapter, registry, logger);
    expect(logger.warningsOf(CONTEXT)).toEqual([]);
    await request(app.getHttpServer()).get('/anything/item/7').expect(200);
    expect(sampleValue(await readRegistry(registry), 'http_requests_total', { route: '/anything/item/:id' })).toBe(1);
    await app.close();
  });

  const hasHook = lineHasRequestHook(adapter);
  (hasHook ? it : it.skip)(
    'warns once, naming what the metrics miss, when the adapter request hook is gone (11.1+ lines)',
    async () => {
      const logger = new CapturingLogger();
      const registry = new Registry();
      const app = await createLoggedApp(adapter, registry, logger, httpAdapter => {
        Object.defineProperty(httpAdapter, 'setOnRequestHook', { value: undefined });
      });
      const warnings = logger.warningsOf(CONTEXT);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('setOnRequestHook');
      expect(warnings[0]).toContain(adapter === 'express' ? 'middleware put first' : '__unmatched__');
      expect(warnings[0]).toContain('issue tracker');
      // The fallback still counts the request: a gap is named, never a crash.
      await request(app.getHttpServer()).get('/anything/item/7').expect(200);
      expect(sampleValue(await readRegistry(registry), 'http_requests_total', { route: '/anything/item/:id' })).toBe(1);
      await app.close();
    },
  );
  if (!hasHook) {
    it(`has no adapter request hook on this line (@nestjs/platform-${adapter} before 11.1): the fallback is documented, no warning`, async () => {
      const logger = new CapturingLogger();
      const registry = new Registry();
      const app = await createLoggedApp(adapter, registry, logger);
      expect(logger.warningsOf(CONTEXT)).toEqual([]);
      await request(app.getHttpServer()).get('/anything/item/7').expect(200);
      expect(sampleValue(await readRegistry(registry), 'http_requests_total', { route: '/anything/item/:id' })).toBe(1);
      await app.close();
    });
  }

  it('warns when Nest picks exception filters without asking the module', async () => {
    const logger = new CapturingLogger();
    const app = await withFilterSelectionBypassed(() => createLoggedApp(adapter, new Registry(), logger));
    const warnings = logger.warningsOf(CONTEXT);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('exception-filter selection');
    expect(warnings[0]).toContain('http_exceptions_total');
    await app.close();
  });
});

describe('bootstrap self-check (fastify, a second request listener)', () => {
  it('warns once about the responses it cannot count, and still counts the routes', async () => {
    const logger = new CapturingLogger();
    const registry = new Registry();
    const app = await createLoggedApp('fastify', registry, logger, (_adapter, nestApp) => {
      (nestApp.getHttpServer() as Server).on('request', () => undefined);
    });
    const warnings = logger.warningsOf(CONTEXT);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("2 'request' listeners");
    expect(warnings[0]).toContain('a URL it cannot decode');
    await request(app.getHttpServer()).get('/anything/item/7').expect(200);
    expect(sampleValue(await readRegistry(registry), 'http_requests_total', { route: '/anything/item/:id' })).toBe(1);
    await app.close();
  });

  it('names every broken contact point in that one warning', async () => {
    const logger = new CapturingLogger();
    const app = await withFilterSelectionBypassed(() =>
      createLoggedApp('fastify', new Registry(), logger, (_adapter, nestApp) => {
        (nestApp.getHttpServer() as Server).on('request', () => undefined);
      }),
    );
    const warnings = logger.warningsOf(CONTEXT);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('2 contact points');
    expect(warnings[0]).toContain("'request' listeners");
    expect(warnings[0]).toContain('exception-filter selection');
    await app.close();
  });
});
