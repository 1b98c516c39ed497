import 'reflect-metadata';
import { Controller, Get, type INestApplication, Injectable } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Counter as PromCounter } from 'prom-client';
import { Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import { Counter, InjectMetric, PrometheusModule } from '../lib/index.js';
import { ADAPTERS, type AdapterName, readRegistry } from './utils/app.js';
import { sampleValue } from './utils/exposition.js';
import { freePort } from './utils/wait.js';

// Two apps in one process, built from the same classes, each with a registry of its own: each
// must count exactly its own traffic (HTTP, method decorators, microservice handlers), whatever
// order they bootstrapped in. The classes are shared, as they are when a test suite or a
// multi-tenant process creates the same AppModule twice.

const HOST = '127.0.0.1';

@Injectable()
class OrdersService {
  @Counter({ name: 'orders_placed_total', help: 'Orders placed' })
  place(): string {
    return 'placed';
  }
}

@Controller()
class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Get('orders')
  order(): string {
    return this.orders.place();
  }

  @MessagePattern('orders.count')
  @Counter({ name: 'orders_counted_total', help: 'Count requests handled' })
  count(): number {
    return 1;
  }
}

interface RunningApp {
  app: INestApplication;
  registry: Registry;
  port: number;
}

async function start(adapter: AdapterName): Promise<RunningApp> {
  const registry = new Registry();
  const moduleRef = await Test.createTestingModule({
    imports: [PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } })],
    controllers: [OrdersController],
    providers: [OrdersService],
  }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  const port = await freePort();
  app.connectMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: HOST, port } });
  await app.startAllMicroservices();
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return { app, registry, port };
}

async function send(port: number, messages: number): Promise<void> {
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port } });
  try {
    for (let i = 0; i < messages; i++) expect(await firstValueFrom(client.send('orders.count', {}))).toBe(1);
  } finally {
    await client.close();
  }
}

async function counts(registry: Registry) {
  const exp = await readRegistry(registry);
  return {
    http: sampleValue(exp, 'http_requests_total', { method: 'GET', route: '/orders', status_code: '200' }) ?? 0,
    placed: sampleValue(exp, 'orders_placed_total', {}) ?? 0,
    rpc: sampleValue(exp, 'rpc_requests_total', { pattern: 'orders.count', kind: 'message', outcome: 'success' }) ?? 0,
    counted: sampleValue(exp, 'orders_counted_total', {}) ?? 0,
  };
}

describe.each(ADAPTERS)('two apps in one process (%s)', adapter => {
  let first: RunningApp;
  let second: RunningApp;

  beforeAll(async () => {
    first = await start(adapter);
    second = await start(adapter);
  });

  afterAll(async () => {
    await first?.app.close();
    await second?.app.close();
  });

  it('each app counts exactly its own HTTP requests, decorated method calls and microservice messages', async () => {
    for (let i = 0; i < 3; i++) await request(first.app.getHttpServer()).get('/orders').expect(200);
    await request(second.app.getHttpServer()).get('/orders').expect(200);
    await send(first.port, 2);
    await send(second.port, 4);

    expect(await counts(first.registry)).toEqual({ http: 3, placed: 3, rpc: 2, counted: 2 });
    expect(await counts(second.registry)).toEqual({ http: 1, placed: 1, rpc: 4, counted: 4 });
  });
});

// forRoot() runs here, before the class below is defined: its decorator's metric must still be
// injectable (declarations are read when Nest reads the module, not when forRoot() runs).
const lateRegistry = new Registry();
const prometheusFirst = PrometheusModule.forRoot({ registry: lateRegistry, defaultMetrics: { enabled: false } });

@Injectable()
class LateService {
  @Counter({ name: 'late_calls_total', help: 'Calls of a class defined after forRoot()' })
  call(): void {}
}

@Injectable()
class LateReader {
  constructor(@InjectMetric('late_calls_total') readonly counter: PromCounter) {}
}

describe('a decorator metric declared after forRoot() ran', () => {
  it('is injectable with @InjectMetric and counts the calls', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [prometheusFirst],
      providers: [LateService, LateReader],
    }).compile();
    const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await app.init();
    try {
      app.get(LateService).call();
      app.get(LateService).call();
      expect((await app.get(LateReader).counter.get()).values[0]?.value).toBe(2);
    } finally {
      await app.close();
    }
  });
});
