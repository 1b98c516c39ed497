import 'reflect-metadata';
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CanActivate,
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  type Provider,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { Registry } from 'prom-client';
import { PrometheusModule, UNMATCHED_ROUTE } from '../lib/index.js';
import { ADAPTERS, type AdapterName, createApp } from './utils/app.js';
import { type Exposition, findSamples, parseExposition, sumOf } from './utils/exposition.js';

/*
 * Protecting the metrics endpoint: `guards` and `endpointDecorators` (forRoot and forRootAsync),
 * an app-wide APP_GUARD, a basic-auth recipe, and what a denied scrape does to the counters.
 */

const TOKEN = 'scrape-token-1';

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/** Bearer token: 401 without one, 403 with a wrong one. */
class BearerTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<HttpRequestLike>().headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer '))
      throw new UnauthorizedException('bearer token required');
    return header.slice('Bearer '.length) === TOKEN;
  }
}

/** A guard class with a dependency (resolved by Nest where the metrics controller lives). */
@Injectable()
class ReflectingGuard implements CanActivate {
  static seen: boolean[] = [];
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    ReflectingGuard.seen.push(this.reflector instanceof Reflector);
    return context.switchToHttp().getRequest<HttpRequestLike>().headers['x-scraper'] === 'prometheus';
  }
}

/** Configured per instance: a shared secret in a header of one's choice. */
class SharedSecretGuard implements CanActivate {
  constructor(
    private readonly header: string,
    private readonly secret: string,
  ) {}
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<HttpRequestLike>().headers[this.header] === this.secret;
  }
}

/**
 * The basic-auth recipe: `Authorization: Basic base64(user:pass)`, compared in constant time,
 * 401 with a `WWW-Authenticate` challenge otherwise.
 */
class BasicAuthGuard implements CanActivate {
  private readonly expected: Buffer;
  constructor(user: string, password: string) {
    this.expected = Buffer.from(`${user}:${password}`);
  }
  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const header = http.getRequest<HttpRequestLike>().headers.authorization;
    const match = typeof header === 'string' ? /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim()) : null;
    const given = match ? Buffer.from(match[1], 'base64') : Buffer.alloc(0);
    if (given.length === this.expected.length && timingSafeEqual(given, this.expected)) return true;
    // `header()` exists on Express responses and on Fastify replies.
    http
      .getResponse<{ header(name: string, value: string): unknown }>()
      .header('WWW-Authenticate', 'Basic realm="metrics"');
    throw new UnauthorizedException();
  }
}

const IS_PUBLIC = 'isPublic';
const Public = () => SetMetadata(IS_PUBLIC, true);

/** The app's global guard: everything is forbidden unless the handler or its class is public. */
@Injectable()
class PublicOnlyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
  }
}

const GLOBAL_GUARD: Provider = { provide: APP_GUARD, useClass: PublicOnlyGuard };

@Controller('app')
class AppController {
  @Get('open')
  @Public()
  open(): { open: true } {
    return { open: true };
  }

  @Get('closed')
  closed(): { closed: true } {
    return { closed: true };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const basic = (credentials: string) => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });

function requestCounts(exp: Exposition): Record<string, number> {
  return Object.fromEntries(
    findSamples(exp, 'http_requests_total').map(s => [
      `${s.labels.method} ${s.labels.route} ${s.labels.status_code}`,
      s.value,
    ]),
  );
}

describe.each(ADAPTERS)('guards on the metrics endpoint (%s)', (adapter: AdapterName) => {
  let app: INestApplication | undefined;
  let port: number;
  let registry: Registry;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(prometheus: DynamicModule, providers: Provider[] = []): Promise<void> {
    app = await createApp(adapter, { imports: [prometheus], controllers: [AppController], providers });
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as http.Server).address() as AddressInfo).port;
  }

  /** A scrape that must be let through: 200 and a strictly parsed exposition. */
  async function scrapeWith(headers: Record<string, string>, path = '/metrics'): Promise<Exposition> {
    const reply = await get(port, path, headers);
    expect({ path, status: reply.status }).toEqual({ path, status: 200 });
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(reply.text);
  }

  describe('guards: [Class]', () => {
    beforeEach(async () => {
      registry = new Registry();
      await boot(
        PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, guards: [BearerTokenGuard] }),
      );
    });

    it('401 without a token (what the guard throws), 403 with a wrong one, 200 with the right one', async () => {
      const missing = await get(port, '/metrics');
      expect(missing.status).toBe(401);
      expect(JSON.parse(missing.text)).toMatchObject({ statusCode: 401, message: 'bearer token required' });
      expect(missing.text).not.toContain('# TYPE');
      const wrong = await get(port, '/metrics', { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(403);
      expect(wrong.text).not.toContain('# TYPE');
      const exp = await scrapeWith(bearer);
      expect(exp.families.get('http_requests_total')?.type).toBe('counter');
    });

    it('only the metrics endpoint is guarded: the app’s routes answer as before', async () => {
      expect((await get(port, '/app/open')).status).toBe(200);
      expect((await get(port, '/app/closed')).status).toBe(200);
    });

    it('denied scrapes are not counted (the endpoint is @DoNotTrack), the app’s requests are', async () => {
      for (let i = 0; i < 5; i++) expect((await get(port, '/metrics')).status).toBe(401);
      for (let i = 0; i < 3; i++)
        expect((await get(port, '/metrics', { authorization: 'Bearer nope' })).status).toBe(403);
      expect((await get(port, '/app/open')).status).toBe(200);
      const exp = await scrapeWith(bearer);
      expect(requestCounts(exp)).toEqual({ 'GET /app/open 200': 1 });
      expect(findSamples(exp, 'http_exceptions_total')).toEqual([]);
      expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);
      // Allowed scrapes are not counted either.
      const again = await scrapeWith(bearer);
      expect(requestCounts(again)).toEqual({ 'GET /app/open 200': 1 });
    });

    it('no other path reaches the metrics; no spelling of the path gets past the guard', async () => {
      for (const path of ['/metrics/x', '/api/metrics', '/metricsx', '/metrics/metrics']) {
        const reply = await get(port, path, bearer);
        expect({ path, status: reply.status }).toEqual({ path, status: 404 });
        expect(reply.text).not.toContain('# TYPE');
      }
      for (const path of [
        '/metrics/',
        '/METRICS',
        '/Metrics',
        '/metrics?x=1',
        '/metrics#x',
        '//metrics',
        '/%6Detrics',
        '/metrics%2F',
        '/metrics;x',
        '/./metrics',
        '/x/../metrics',
      ]) {
        const reply = await get(port, path);
        expect({
          path,
          denied: [401, 403, 404].includes(reply.status),
          exposition: reply.text.includes('# TYPE'),
        }).toEqual({
          path,
          denied: true,
          exposition: false,
        });
      }
      const exp = await scrapeWith(bearer);
      // 404s are the app's unmatched requests, never a metrics route.
      expect(findSamples(exp, 'http_requests_total').filter(s => s.labels.route !== UNMATCHED_ROUTE)).toEqual([]);
    });
  });

  it('guards: [instance]: the instance’s own configuration decides', async () => {
    registry = new Registry();
    await boot(
      PrometheusModule.forRoot({
        registry,
        defaultMetrics: { enabled: false },
        guards: [new SharedSecretGuard('x-scrape-key', 'k-42')],
      }),
    );
    expect((await get(port, '/metrics')).status).toBe(403);
    expect((await get(port, '/metrics', { 'x-scrape-key': 'k-41' })).status).toBe(403);
    await scrapeWith({ 'x-scrape-key': 'k-42' });
  });

  it('guards: [Class with dependencies]: Nest injects them', async () => {
    registry = new Registry();
    ReflectingGuard.seen = [];
    await boot(PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, guards: [ReflectingGuard] }));
    expect((await get(port, '/metrics')).status).toBe(403);
    await scrapeWith({ 'x-scraper': 'prometheus' });
    expect(ReflectingGuard.seen).toEqual([true, true]);
  });

  it('several guards: all must pass, in order (401 from the first before the second is asked)', async () => {
    registry = new Registry();
    await boot(
      PrometheusModule.forRoot({
        registry,
        defaultMetrics: { enabled: false },
        guards: [BearerTokenGuard, new SharedSecretGuard('x-scrape-key', 'k-42')],
      }),
    );
    expect((await get(port, '/metrics', { 'x-scrape-key': 'k-42' })).status).toBe(401);
    expect((await get(port, '/metrics', bearer)).status).toBe(403);
    await scrapeWith({ ...bearer, 'x-scrape-key': 'k-42' });
  });

  it('forRootAsync with guards and a path from the factory: /metrics is 404, the configured path is guarded', async () => {
    registry = new Registry();
    await boot(
      PrometheusModule.forRootAsync({
        guards: [BearerTokenGuard],
        useFactory: async () => ({ registry, defaultMetrics: { enabled: false }, path: '/internal/metrics' }),
      }),
    );
    expect((await get(port, '/internal/metrics')).status).toBe(401);
    expect((await get(port, '/internal/metrics', { authorization: 'Bearer nope' })).status).toBe(403);
    await scrapeWith(bearer, '/internal/metrics');
    for (const path of ['/metrics', '/internal/metrics/x', '/internal']) {
      expect({ path, status: (await get(port, path, bearer)).status }).toEqual({ path, status: 404 });
    }
  });

  it('forRoot with path: /internal/metrics: the default /metrics is 404', async () => {
    registry = new Registry();
    await boot(PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, path: '/internal/metrics' }));
    expect((await get(port, '/metrics')).status).toBe(404);
    await scrapeWith({}, '/internal/metrics');
  });

  describe('an app-wide APP_GUARD that lets only @Public() through', () => {
    it('without endpointDecorators the metrics endpoint is forbidden (403), like every other route', async () => {
      registry = new Registry();
      await boot(PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } }), [GLOBAL_GUARD]);
      expect((await get(port, '/metrics')).status).toBe(403);
      expect((await get(port, '/app/closed')).status).toBe(403);
      expect((await get(port, '/app/open')).status).toBe(200);
    });

    it('endpointDecorators: [SetMetadata("isPublic", true)] lets scrapes through; other routes are unchanged', async () => {
      registry = new Registry();
      await boot(
        PrometheusModule.forRoot({
          registry,
          defaultMetrics: { enabled: false },
          endpointDecorators: [SetMetadata(IS_PUBLIC, true)],
        }),
        [GLOBAL_GUARD],
      );
      expect((await get(port, '/app/closed')).status).toBe(403);
      expect((await get(port, '/app/open')).status).toBe(200);
      const exp = await scrapeWith({});
      expect(requestCounts(exp)).toEqual({ 'GET /app/closed 403': 1, 'GET /app/open 200': 1 });
    });

    it('endpointDecorators: [Public()] with forRootAsync, plus guards: public for the app guard, still token-protected', async () => {
      registry = new Registry();
      await boot(
        PrometheusModule.forRootAsync({
          endpointDecorators: [Public()],
          guards: [BearerTokenGuard],
          useFactory: () => ({ registry, defaultMetrics: { enabled: false } }),
        }),
        [GLOBAL_GUARD],
      );
      expect((await get(port, '/metrics')).status).toBe(401);
      await scrapeWith(bearer);
    });

    it('a denied scrape (403 from the global guard) is not counted', async () => {
      registry = new Registry();
      await boot(
        PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, guards: [BearerTokenGuard] }),
        [GLOBAL_GUARD],
      );
      for (let i = 0; i < 4; i++) expect((await get(port, '/metrics', bearer)).status).toBe(403);
      expect((await get(port, '/app/open')).status).toBe(200);
      expect(requestCounts(parseExposition(await registry.metrics()))).toEqual({ 'GET /app/open 200': 1 });
    });
  });

  describe('basic auth (the README recipe)', () => {
    beforeEach(async () => {
      registry = new Registry();
      await boot(
        PrometheusModule.forRoot({
          registry,
          defaultMetrics: { enabled: false },
          guards: [new BasicAuthGuard('prometheus', 's3cr:et')],
        }),
      );
    });

    it('200 with the right user and password (a colon in the password included)', async () => {
      const exp = await scrapeWith(basic('prometheus:s3cr:et'));
      expect(exp.families.has('http_requests_total')).toBe(true);
      await scrapeWith({ authorization: `basic ${Buffer.from('prometheus:s3cr:et').toString('base64')}` });
    });

    it('401 with a Basic challenge when credentials are missing, wrong or malformed', async () => {
      const attempts: [string, Record<string, string>][] = [
        ['none', {}],
        ['wrong password', basic('prometheus:s3cr')],
        ['wrong user', basic('grafana:s3cr:et')],
        ['longer', basic('prometheus:s3cr:et!')],
        ['empty', basic('')],
        ['not base64', { authorization: 'Basic !!!' }],
        ['bearer', bearer],
        ['scheme only', { authorization: 'Basic' }],
      ];
      for (const [name, headers] of attempts) {
        const reply = await get(port, '/metrics', headers);
        expect({ name, status: reply.status, challenge: reply.headers['www-authenticate'] }).toEqual({
          name,
          status: 401,
          challenge: 'Basic realm="metrics"',
        });
        expect(reply.text).not.toContain('# TYPE');
      }
      expect(requestCounts(parseExposition(await registry.metrics()))).toEqual({});
    });
  });
});
