import 'reflect-metadata';
import { jest } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  type INestApplication,
  type INestApplicationContext,
  Logger,
} from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Counter, Gauge, Histogram } from '../../lib/index.js';
import { ADAPTERS, createApp, createContext, isolatedPrometheus, readRegistry, scrape } from '../utils/app.js';
import { sampleValue } from '../utils/exposition.js';

// Issue 19, item 1 (the MethodMetric part): a label function that throws something that cannot be
// turned into a string must not break the call, nor lose the sample: the label gets "error" and
// one warning is logged, as for an ordinary Error.

const HELP = 'test metric';

/** Thrown values a label function might throw, that `String()` or `.message` cannot describe. */
function nullPrototype(): unknown {
  return Object.create(null);
}
function throwingMessage(): unknown {
  return Object.defineProperty({}, 'message', {
    get() {
      throw Object.create(null);
    },
  });
}
/** Returned (not thrown) by a label function: turning it into a string throws a null-prototype object. */
function unprintable(): unknown {
  return {
    toString() {
      throw Object.create(null);
    },
  };
}

@Injectable()
class HostileLabels {
  @Gauge({
    name: 'hostile_in_progress',
    help: HELP,
    labels: {
      who: () => {
        throw nullPrototype();
      },
    },
  })
  gauged(n: number): number {
    return n + 1;
  }

  @Counter({
    name: 'hostile_calls_total',
    help: HELP,
    labels: {
      who: () => {
        throw throwingMessage();
      },
    },
  })
  counted(n: number): number {
    return n * 2;
  }

  @Histogram({ name: 'hostile_seconds', help: HELP, buckets: [1], labels: { who: () => unprintable() as string } })
  async timed(): Promise<string> {
    return 'done';
  }
}

describe('a label function that throws what cannot be described (MethodMetric)', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeEach(async () => {
    registry = new Registry();
    app = await createContext({ imports: [isolatedPrometheus(registry)], providers: [HostileLabels] });
    await app.init();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  it('a gauge: the call returns, the in-progress sample is kept under "error" and released', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const service = app.get(HostileLabels);

    expect(service.gauged(1)).toBe(2);
    expect(service.gauged(2)).toBe(3);

    expect(sampleValue(await readRegistry(registry), 'hostile_in_progress', { who: 'error' })).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('label "who" threw');
  });

  it('a counter whose thrown value has a throwing `message` getter: counted under "error", warned once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const service = app.get(HostileLabels);

    expect(service.counted(1)).toBe(2);
    expect(service.counted(2)).toBe(4);
    expect(service.counted(3)).toBe(6);

    expect(sampleValue(await readRegistry(registry), 'hostile_calls_total', { who: 'error' })).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('label "who" threw');
  });

  it('a histogram whose label value cannot be turned into a string: observed under "error"', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const service = app.get(HostileLabels);

    await expect(service.timed()).resolves.toBe('done');
    await expect(service.timed()).resolves.toBe('done');

    expect(sampleValue(await readRegistry(registry), 'hostile_seconds_count', { who: 'error' })).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('label "who" threw');
  });
});

@Controller('hostile')
class HostileController {
  @Gauge({
    name: 'hostile_route_in_progress',
    help: HELP,
    labels: {
      who: () => {
        throw nullPrototype();
      },
    },
  })
  @Counter({
    name: 'hostile_route_calls_total',
    help: HELP,
    labels: {
      who: () => {
        throw throwingMessage();
      },
    },
  })
  @Get()
  get(): string {
    return 'ok';
  }
}

describe.each(ADAPTERS)('a route whose metric label throws what cannot be described (%s)', adapter => {
  let app: INestApplication;
  afterEach(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  it('answers 200 and counts the calls under "error"', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    app = await createApp(adapter, {
      imports: [isolatedPrometheus(new Registry())],
      controllers: [HostileController],
    });
    for (let i = 0; i < 3; i++) {
      const res = await request(app.getHttpServer()).get('/hostile').expect(200);
      expect(res.text).toBe('ok');
    }
    const exp = await scrape(app);
    expect(sampleValue(exp, 'hostile_route_calls_total', { who: 'error' })).toBe(3);
    expect(sampleValue(exp, 'hostile_route_in_progress', { who: 'error' })).toBe(0);
    expect(sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/hostile', status_code: '200' })).toBe(3);
  });
});
