import {
  Controller,
  Get,
  type INestApplication,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
  VersioningType,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ADAPTERS, createApp, isolatedPrometheus, readRegistry } from './utils/app.js';
import { findSamples, sumOf } from './utils/exposition.js';

class GatewayDownError extends Error {}

/** Answers `/mw` itself with a 401, throws for `/mw/throw`: the handler never runs. */
class GatekeeperMiddleware implements NestMiddleware {
  use(req: { url?: string; originalUrl?: string }, res: { statusCode: number; end(): void }, next: () => void): void {
    const url = req.originalUrl ?? req.url ?? '';
    if (url.endsWith('/throw')) throw new GatewayDownError('gateway down');
    if (url === '/mw') {
      res.statusCode = 401;
      res.end();
      return;
    }
    next();
  }
}

@Controller('mw')
class GuardedController {
  @Get()
  root(): string {
    return 'never';
  }

  @Get('throw')
  thrower(): string {
    return 'never';
  }
}

@Controller({ path: 'v', version: '1' })
class V1Controller {
  @Get()
  get(): string {
    return 'v1';
  }
}

@Controller({ path: 'v', version: '2' })
class V2Controller {
  @Get()
  get(): string {
    return 'v2';
  }
}

function counts(exp: Awaited<ReturnType<typeof readRegistry>>, name: string): Record<string, number> {
  return Object.fromEntries(findSamples(exp, name).map(s => [Object.values(s.labels).join(' '), s.value]));
}

describe.each(ADAPTERS)('routing paths on %s', adapter => {
  let app: INestApplication;
  const registry = new Registry();

  beforeAll(async () => {
    @Module({ imports: [isolatedPrometheus(registry)], controllers: [GuardedController, V1Controller, V2Controller] })
    class AppModule implements NestModule {
      configure(consumer: MiddlewareConsumer): void {
        consumer.apply(GatekeeperMiddleware).forRoutes(GuardedController);
      }
    }
    app = await createApp(adapter, { imports: [AppModule] }, a => {
      a.enableCors();
      a.enableVersioning({ type: VersioningType.HEADER, header: 'x-v' });
    });
  });
  afterAll(() => app.close());

  it('counts responses from middleware under the route, CORS preflights as unmatched, the same on both adapters', async () => {
    const server = app.getHttpServer();
    await request(server).get('/mw').expect(401);
    await request(server).get('/mw/throw').expect(500);
    await request(server)
      .options('/mw')
      .set('origin', 'http://example.com')
      .set('access-control-request-method', 'GET')
      .expect(204);

    // NestJS 10 and 11.0's FastifyAdapter has no request hook: Nest's middleware (run by
    // @fastify/middie's onRequest hook, registered before any module code) answers before the
    // module learns the request's route, so those responses count as unmatched on that line.
    const early =
      adapter === 'fastify' &&
      typeof (FastifyAdapter.prototype as { setOnRequestHook?: unknown }).setOnRequestHook !== 'function';
    const mw = early ? '__unmatched__' : '/mw';
    const exp = await readRegistry(registry);
    expect(counts(exp, 'http_requests_total')).toEqual({
      [`GET ${mw} 401`]: 1,
      [`GET ${early ? mw : '/mw/throw'} 500`]: 1,
      'OPTIONS __unmatched__ 204': 1,
    });
    expect(counts(exp, 'http_exceptions_total')).toEqual({
      [`GET ${early ? mw : '/mw/throw'} GatewayDownError`]: 1,
    });
  });

  it('releases in-progress when a request passes through several versions of one route', async () => {
    const server = app.getHttpServer();
    for (let i = 0; i < 3; i++) await request(server).get('/v').set('x-v', '2').expect(200, 'v2');
    await request(server).get('/v').set('x-v', '1').expect(200, 'v1');

    const exp = await readRegistry(registry);
    expect(counts(exp, 'http_requests_total')['GET /v 200']).toBe(4);
    expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);
  });
});
