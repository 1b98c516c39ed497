import 'reflect-metadata';
import { jest } from '@jest/globals';
import { type INestApplicationContext, Injectable, Logger, type ModuleMetadata } from '@nestjs/common';
import { Registry } from 'prom-client';
import { Counter, Histogram } from '../lib/index.js';
import { ADAPTERS, type AdapterName, createContext, isolatedPrometheus, readRegistry } from './utils/app.js';
import { sampleValue } from './utils/exposition.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const HELP = 'test metric';

// ---------------------------------------------------------------------------------------------
// Label functions that throw
// ---------------------------------------------------------------------------------------------

@Injectable()
class RiskyService {
  @Counter({
    name: 'risky_calls_total',
    help: HELP,
    labels: {
      kind: 'static',
      who: () => {
        throw new Error('no user');
      },
    },
  })
  call(n: number): number {
    return n * 2;
  }

  @Histogram({
    name: 'risky_seconds',
    help: HELP,
    buckets: [1],
    labels: {
      who: ctx => (ctx.result as { user: { name: string } }).user.name,
    },
  })
  async timed(): Promise<string> {
    return 'no user object';
  }
}

/** One decorator value, with a label function that throws, on two methods: one metric. */
const countShared = Counter({
  name: 'risky_shared_total',
  help: HELP,
  labels: {
    who: () => {
      throw new Error('no user');
    },
  },
});

@Injectable()
class SharedRiskyService {
  @countShared
  first(): string {
    return 'first';
  }

  @countShared
  second(): string {
    return 'second';
  }
}

describe('a label function that throws', () => {
  let app: INestApplicationContext;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    app = await createContext({
      imports: [isolatedPrometheus(registry)],
      providers: [RiskyService, SharedRiskyService],
    });
    await app.init();
  });
  afterAll(() => app.close());
  afterEach(() => jest.restoreAllMocks());

  it('never breaks the call: the label gets "error" and a warning is logged once per metric', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const risky = app.get(RiskyService);

    expect(risky.call(1)).toBe(2);
    expect(risky.call(2)).toBe(4);
    expect(risky.call(3)).toBe(6);
    expect(warn).toHaveBeenCalledTimes(1);

    await expect(risky.timed()).resolves.toBe('no user object');
    await expect(risky.timed()).resolves.toBe('no user object');
    expect(warn).toHaveBeenCalledTimes(2);

    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'risky_calls_total', { kind: 'static', who: 'error' })).toBe(3);
    expect(sampleValue(exp, 'risky_seconds_count', { who: 'error' })).toBe(2);
  });

  it('warns once for a metric whose decorator is on several methods', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const shared = app.get(SharedRiskyService);

    expect(shared.first()).toBe('first');
    expect(shared.second()).toBe('second');
    expect(shared.first()).toBe('first');
    expect(shared.second()).toBe('second');

    expect(sampleValue(await readRegistry(registry), 'risky_shared_total', { who: 'error' })).toBe(4);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Bootstrap errors, each in a fresh copy of the library and of Nest
// ---------------------------------------------------------------------------------------------

/**
 * The library records every metric decorator evaluated in the process (to make its name injectable).
 * The tests that declare invalid or conflicting decorators load the library (and Nest) afresh, as a
 * separate process would, so each one sees only its own classes, whatever the others declare.
 */
async function freshWorld() {
  jest.resetModules();
  // One at a time: jest's ESM loader does not link concurrent imports of a shared dependency.
  const common = await import('@nestjs/common');
  const core = await import('@nestjs/core');
  const lib = await import('../lib/index.js');
  /** Bootstraps an application context (no HTTP) and closes it. */
  const bootContext = async (metadata: ModuleMetadata): Promise<Registry> => {
    const registry = new Registry();
    @common.Module({
      imports: [lib.PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      ...metadata,
    })
    class FreshModule {}
    const ctx = await core.NestFactory.createApplicationContext(FreshModule, { logger: false, abortOnError: false });
    await ctx.init();
    await ctx.close();
    return registry;
  };
  /** Bootstraps an HTTP app on the given adapter and closes it. */
  const bootHttp = async (adapter: AdapterName, metadata: ModuleMetadata): Promise<void> => {
    const testing = await import('@nestjs/testing');
    const registry = new Registry();
    const ref = await testing.Test.createTestingModule({
      imports: [lib.PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
      ...metadata,
    }).compile();
    const app =
      adapter === 'express'
        ? ref.createNestApplication(new (await import('@nestjs/platform-express')).ExpressAdapter(), { logger: false })
        : ref.createNestApplication(new (await import('@nestjs/platform-fastify')).FastifyAdapter(), { logger: false });
    try {
      await app.init();
    } finally {
      await app.close();
    }
  };
  return { common, lib, bootContext, bootHttp };
}

async function bootstrapError(boot: () => Promise<unknown>): Promise<string> {
  try {
    await boot();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('bootstrap succeeded');
}

describe('invalid metric decorators fail at bootstrap, naming the class, the method and the problem', () => {
  it('an invalid metric name', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Counter({ name: 'bad-name', help: HELP })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toContain('bad-name');
  });

  it.each(['__x', 'a-b'])('an invalid label name (%s)', async label => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Gauge({ name: 'orders_in_progress', help: HELP, labels: { [label]: 'v' } })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toContain(label);
  });

  it('unsorted histogram buckets', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class OrdersService {
      @lib.Histogram({ name: 'orders_seconds', help: HELP, buckets: [2, 1] })
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toMatch(/bucket/i);
  });

  it('a missing help text', async () => {
    const { common, lib, bootContext } = await freshWorld();
    const options = { name: 'orders_total' } as Parameters<typeof lib.Counter>[0];
    @common.Injectable()
    class OrdersService {
      @lib.Counter(options)
      place(): void {}
    }
    const message = await bootstrapError(() => bootContext({ providers: [OrdersService] }));
    expect(message).toContain('OrdersService.place');
    expect(message).toMatch(/help/i);
  });

  it.each(ADAPTERS)('on a controller handler (%s)', async adapter => {
    const { common, lib, bootHttp } = await freshWorld();
    @common.Controller('orders')
    class OrdersController {
      @common.Post()
      @lib.Counter({ name: 'orders-placed', help: HELP })
      create(): void {}
    }
    const message = await bootstrapError(() => bootHttp(adapter, { controllers: [OrdersController] }));
    expect(message).toContain('OrdersController.create');
    expect(message).toContain('orders-placed');
  });
});

describe('apps only see the metric decorators of their own classes', () => {
  // Decorators are recorded process-wide when classes are defined (see freshWorld); an app must
  // only be affected by those of its own classes.
  it('an invalid decorator on a class outside the app does not break the app', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class UnusedService {
      @lib.Counter({ name: 'unused-name', help: HELP })
      run(): void {}
    }
    @common.Injectable()
    class UsedService {
      @lib.Counter({ name: 'used_total', help: HELP })
      run(): void {}
    }
    expect(UnusedService).toBeDefined();
    const registry = await bootContext({ providers: [UsedService] });
    expect(sampleValue(await readRegistry(registry), 'used_total')).toBe(0);
  });

  it('two apps with their own registries may define the same metric name with different labels', async () => {
    const { common, lib, bootContext } = await freshWorld();
    @common.Injectable()
    class BillingService {
      @lib.Counter({ name: 'jobs_total', help: HELP, labels: { queue: 'billing' } })
      run(): void {}
    }
    @common.Injectable()
    class MailService {
      @lib.Counter({ name: 'jobs_total', help: HELP, labels: { mailbox: 'inbox' } })
      run(): void {}
    }
    const billing = await bootContext({ providers: [BillingService] });
    expect(sampleValue(await readRegistry(billing), 'jobs_total', { queue: 'billing' })).toBe(0);
    const mail = await bootContext({ providers: [MailService] });
    expect(sampleValue(await readRegistry(mail), 'jobs_total', { mailbox: 'inbox' })).toBe(0);
  });
});
