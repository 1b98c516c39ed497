import 'reflect-metadata';
import {
  Controller,
  type DynamicModule,
  Get,
  Global,
  type INestApplication,
  Injectable,
  Module,
  Post,
} from '@nestjs/common';
import { Counter as PromCounter, Registry } from 'prom-client';
import request from 'supertest';
import { Counter, InjectMetric, makeCounterProvider, PrometheusMetricsServer, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, createApp, readRegistry, scrape } from './utils/app.js';
import { sampleValue } from './utils/exposition.js';
import { httpFamilies } from './utils/shop.js';

/*
 * `enabled: false`: the module instruments, collects and serves nothing, and the app runs
 * unchanged; `enabled` from configuration (forRootAsync) and its validation.
 */

const HELP = 'extension points test metric';

// ---------------------------------------------------------------------------------------------
// enabled: false
// ---------------------------------------------------------------------------------------------

@Injectable()
class RefundService {
  constructor(
    @InjectMetric('ext_refunds_total') readonly refunds: PromCounter,
    @InjectMetric('ext_answers_total') readonly answers: PromCounter,
  ) {}

  refund(): void {
    this.refunds.inc();
  }
}

@Controller('calc')
class CalcController {
  constructor(private readonly refunds: RefundService) {}

  @Get('answer')
  @Counter({ name: 'ext_answers_total', help: HELP })
  answer(): { answer: number } {
    return { answer: 42 };
  }

  @Post('refund')
  refund(): { refunded: boolean } {
    this.refunds.refund();
    return { refunded: true };
  }
}

const calcProviders = [RefundService, makeCounterProvider({ name: 'ext_refunds_total', help: HELP })];

/** A configuration provider of the app's own, as `ConfigModule.forRoot({ isGlobal: true })` gives. */
@Injectable()
class AppConfig {
  constructor(private readonly env: Record<string, string | undefined>) {}
  get(key: string): string | undefined {
    return this.env[key];
  }
}

@Global()
@Module({})
class AppConfigModule {
  static withEnv(env: Record<string, string | undefined>): DynamicModule {
    return {
      module: AppConfigModule,
      providers: [{ provide: AppConfig, useValue: new AppConfig(env) }],
      exports: [AppConfig],
    };
  }
}

describe.each(ADAPTERS)('enabled: false (%s)', adapter => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function expectDisabled(a: INestApplication, registry: Registry): Promise<void> {
    const server = a.getHttpServer();
    await request(server).get('/metrics').expect(404);
    await request(server).get('/calc/answer').expect(200).expect({ answer: 42 });
    await request(server).get('/calc/answer').expect(200).expect({ answer: 42 });
    await request(server).post('/calc/refund').expect(201).expect({ refunded: true });
    const refunds = a.get(RefundService);
    // Injected metrics exist and work, so the app runs unchanged.
    expect(refunds.answers).toBeInstanceOf(PromCounter);
    expect(refunds.refunds).toBeInstanceOf(PromCounter);

    const exp = await readRegistry(registry);
    expect(httpFamilies(exp)).toEqual([]);
    expect([...exp.families.keys()].filter(n => n.startsWith('process_') || n.startsWith('nodejs_'))).toEqual([]);
    expect(exp.families.has('app_info')).toBe(false);
    // The decorated method is not instrumented.
    expect(sampleValue(exp, 'ext_answers_total')).toBe(0);
    expect(sampleValue(exp, 'ext_refunds_total')).toBe(1);
  }

  async function expectEnabled(a: INestApplication): Promise<void> {
    const server = a.getHttpServer();
    await request(server).get('/calc/answer').expect(200).expect({ answer: 42 });
    await request(server).post('/calc/refund').expect(201);
    const exp = await scrape(a);
    expect(sampleValue(exp, 'http_requests_total', { route: '/calc/answer', status_code: '200' })).toBe(1);
    expect(sampleValue(exp, 'ext_answers_total')).toBe(1);
    expect(sampleValue(exp, 'ext_refunds_total')).toBe(1);
    expect(exp.families.has('process_cpu_user_seconds_total')).toBe(true);
    expect(sampleValue(exp, 'app_info', { version: '1.0.0' })).toBe(1);
  }

  it('forRoot: instruments nothing, collects nothing, serves nothing; the app runs unchanged', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        PrometheusModule.forRoot({
          registry,
          enabled: false,
          info: { version: '1.0.0' },
          httpClient: { enabled: true },
        }),
      ],
      controllers: [CalcController],
      providers: calcProviders,
    });
    await expectDisabled(app, registry);
  });

  it('forRoot with a port: no metrics server', async () => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [PrometheusModule.forRoot({ registry, enabled: false, port: 0 })],
      controllers: [CalcController],
      providers: calcProviders,
    });
    expect(app.get(PrometheusMetricsServer).address()).toBeFalsy();
    await expectDisabled(app, registry);
  });

  it.each([
    ['false', false],
    ['true', true],
    [undefined, true],
  ])('forRootAsync from configuration: ENABLE_METRICS=%s', async (value, enabled) => {
    const registry = new Registry();
    app = await createApp(adapter, {
      imports: [
        AppConfigModule.withEnv({ ENABLE_METRICS: value }),
        PrometheusModule.forRootAsync({
          useFactory: (config: AppConfig) => ({
            registry,
            info: { version: '1.0.0' },
            enabled: config.get('ENABLE_METRICS') !== 'false',
          }),
          inject: [AppConfig],
        }),
      ],
      controllers: [CalcController],
      providers: calcProviders,
    });
    if (enabled) await expectEnabled(app);
    else await expectDisabled(app, registry);
  });

  it('fails at bootstrap when enabled is not a boolean', async () => {
    await expect(
      createApp(adapter, {
        imports: [PrometheusModule.forRoot({ registry: new Registry(), enabled: 'no' as unknown as boolean })],
      }),
    ).rejects.toThrow('PrometheusModule options.enabled must be a boolean');
  });
});
