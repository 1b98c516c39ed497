import 'reflect-metadata';
import http from 'node:http';
import {
  type CanActivate,
  Controller,
  Get,
  HttpCode,
  type INestApplication,
  Injectable,
  Param,
  ParseIntPipe,
  Post,
  Redirect,
  UseGuards,
} from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusModule } from '../lib/index.js';
import { type AdapterName, ADAPTERS, createApp, scrape } from './utils/app.js';
import { type Exposition, parseExposition } from './utils/exposition.js';
import { countsBy, portOf, until } from './hostile/support.js';
import { allowInjectUnderJestEsm } from './utils/light-my-request.js';

await allowInjectUnderJestEsm();

/*
 * Issue 13, defect 1: Fastify's `app.inject()` (light-my-request, how Fastify apps are usually
 * tested) counted every request as 499, because its response never reports `writableFinished`.
 * Each status class is counted exactly through `inject()` on Fastify and supertest on Express,
 * and a client that really goes away still gives 499, on both adapters.
 */

const REQUESTS = 'http_requests_total';
const IN_PROGRESS = 'http_requests_in_progress';

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Lets a test hold the slow handler until the client has gone away. */
class Gate {
  started!: Promise<void>;
  release!: () => void;
  private markStarted!: () => void;
  private released!: Promise<void>;
  constructor() {
    this.reset();
  }
  reset(): void {
    this.started = new Promise(resolve => (this.markStarted = resolve));
    this.released = new Promise(resolve => (this.release = resolve));
  }
  async enter(): Promise<void> {
    this.markStarted();
    await this.released;
  }
}
const gate = new Gate();

@Controller('inj')
class InjectController {
  @Get('ok')
  ok(): { ok: true } {
    return { ok: true };
  }

  @Post('items')
  create(): { created: true } {
    return { created: true };
  }

  @Get('empty')
  @HttpCode(204)
  empty(): void {}

  @Get('old')
  @Redirect('/inj/ok', 302)
  old(): void {}

  @Get('guarded')
  @UseGuards(DenyGuard)
  guarded(): string {
    return 'never';
  }

  @Get('num/:n')
  num(@Param('n', ParseIntPipe) n: number): { n: number } {
    return { n };
  }

  @Get('boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get('slow')
  async slow(): Promise<string> {
    await gate.enter();
    return 'slow';
  }
}

/** [method, url, expected status, times]: every status class, each a different number of times. */
const PLAN: [string, string, number, number][] = [
  ['GET', '/inj/ok', 200, 5],
  ['POST', '/inj/items', 201, 2],
  ['GET', '/inj/empty', 204, 3],
  ['GET', '/inj/old', 302, 4],
  ['GET', '/inj/guarded', 403, 6],
  ['GET', '/inj/num/abc', 400, 7],
  ['GET', '/inj/nope', 404, 2],
  ['GET', '/inj/boom', 500, 3],
];

const EXPECTED: Record<string, number> = {
  'GET /inj/ok 200': 5,
  'POST /inj/items 201': 2,
  'GET /inj/empty 204': 3,
  'GET /inj/old 302': 4,
  'GET /inj/guarded 403': 6,
  'GET /inj/num/:n 400': 7,
  'GET __unmatched__ 404': 2,
  'GET /inj/boom 500': 3,
};

const GROUPED: Record<string, number> = {
  'GET /inj/ok 2xx': 5,
  'POST /inj/items 2xx': 2,
  'GET /inj/empty 2xx': 3,
  'GET /inj/old 3xx': 4,
  'GET /inj/guarded 4xx': 6,
  'GET /inj/num/:n 4xx': 7,
  'GET __unmatched__ 4xx': 2,
  'GET /inj/boom 5xx': 3,
};

async function build(adapter: AdapterName, groupStatusCodes = false): Promise<INestApplication> {
  return createApp(adapter, {
    imports: [
      PrometheusModule.forRoot({
        registry: new Registry(),
        defaultMetrics: { enabled: false },
        http: { groupStatusCodes },
      }),
    ],
    controllers: [InjectController],
    providers: [DenyGuard],
  });
}

/** Sends the plan through the adapter's usual test client; checks every status as it goes. */
async function sendPlan(adapter: AdapterName, app: INestApplication): Promise<void> {
  for (const [method, url, status, times] of PLAN) {
    for (let i = 0; i < times; i++) {
      if (adapter === 'fastify') {
        const res = await (app as NestFastifyApplication).inject({ method: method as 'GET', url });
        expect(`${method} ${url} ${res.statusCode}`).toBe(`${method} ${url} ${status}`);
      } else {
        await request(app.getHttpServer())[method === 'POST' ? 'post' : 'get'](url).redirects(0).expect(status);
      }
    }
  }
}

/** The endpoint through the same client as the requests. */
async function scrapeWith(adapter: AdapterName, app: INestApplication): Promise<Exposition> {
  if (adapter === 'express') return scrape(app);
  const res = await (app as NestFastifyApplication).inject({ url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parseExposition(res.body);
}

const TEST_CLIENT = { express: 'supertest', fastify: 'app.inject()' } as const;

describe.each(ADAPTERS)('status classes through the test client (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    gate.release();
    await app?.close();
    app = undefined;
  });

  it(`${TEST_CLIENT[adapter]}: every status class counted exactly, no 499, nothing left in progress`, async () => {
    app = await build(adapter);
    await sendPlan(adapter, app);
    const exp = await scrapeWith(adapter, app);
    expect(countsBy(exp, REQUESTS)).toEqual(EXPECTED);
    expect(Object.values(countsBy(exp, IN_PROGRESS)).every(v => v === 0)).toBe(true);
  });

  it(`${TEST_CLIENT[adapter]} with groupStatusCodes: exact classes, no 4xx from phantom aborts`, async () => {
    app = await build(adapter, true);
    await sendPlan(adapter, app);
    expect(countsBy(await scrapeWith(adapter, app), REQUESTS)).toEqual(GROUPED);
  });

  it('a client that really goes away (a real socket) is still counted 499', async () => {
    gate.reset();
    app = await build(adapter);
    await app.listen(0, '127.0.0.1');
    const req = http.request({ host: '127.0.0.1', port: portOf(app), path: '/inj/slow' });
    const clientError = new Promise<Error>(resolve => req.on('error', resolve));
    req.end();
    await gate.started;
    req.destroy();
    await clientError;
    const exp = await until(
      () => scrape(app!),
      e => Object.keys(countsBy(e, REQUESTS)).length > 0,
    );
    expect(countsBy(exp, REQUESTS)).toEqual({ 'GET /inj/slow 499': 1 });
    expect(countsBy(exp, IN_PROGRESS)).toEqual({ 'GET /inj/slow': 0 });
  });
});
