import 'reflect-metadata';
import { Controller, Get, type INestApplication, Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusModule, type PrometheusModuleOptions } from '../../lib/index.js';
import { ADAPTERS, createApp, scrape } from '../utils/app.js';
import { sampleValue } from '../utils/exposition.js';

/*
 * Issue 19, item 1: a user's `http.observe`, `http.labels` or `http.exemplars` callback that throws
 * a value which cannot be turned into a string (no prototype, a `message` getter that throws, a
 * revoked Proxy) used to crash the process from the response's `close` listener, where the warning
 * was built. The request must be answered, counted, and the callback reported once.
 */

@Controller('hostile')
class HostileController {
  @Get()
  ok(): string {
    return 'ok';
  }
}

/** Values whose description throws in a naive `${error.message ?? String(error)}`. */
function unprintables(): [string, () => unknown][] {
  return [
    ['an object without prototype', () => Object.create(null)],
    [
      'an object whose message getter throws',
      () => ({
        get message(): string {
          throw new Error('message getter');
        },
      }),
    ],
    [
      'a revoked Proxy',
      () => {
        const { proxy, revoke } = Proxy.revocable({}, {});
        revoke();
        return proxy;
      },
    ],
  ];
}

type HttpOptions = NonNullable<PrometheusModuleOptions['http']>;

function callbacks(thrown: () => unknown): [string, HttpOptions][] {
  const fail = (): never => {
    throw thrown();
  };
  return [
    ['http.observe[0]', { observe: [fail] }],
    ['http.labels.tenant', { labels: { tenant: fail } }],
    ['http.exemplars', { exemplars: fail }],
  ];
}

describe.each(ADAPTERS)('a callback throwing an unprintable value (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });

  for (const [valueName, thrown] of unprintables()) {
    for (const [callbackName, http] of callbacks(thrown)) {
      it(`${callbackName} throwing ${valueName}: requests answered and counted, reported once`, async () => {
        const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
        const registry = new Registry();
        app = await createApp(adapter, {
          imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false }, http })],
          controllers: [HostileController],
        });
        const server = app.getHttpServer();
        await request(server).get('/hostile').expect(200, 'ok');
        await request(server).get('/hostile').expect(200, 'ok');
        const exp = await scrape(app);
        const labels: Record<string, string> = callbackName === 'http.labels.tenant' ? { tenant: 'error' } : {};
        expect(sampleValue(exp, 'http_requests_total', { route: '/hostile', status_code: '200', ...labels })).toBe(2);
        const reported = warn.mock.calls.map(([m]) => String(m)).filter(m => m.includes(`${callbackName} threw`));
        expect(reported).toHaveLength(1);
      });
    }
  }
});
