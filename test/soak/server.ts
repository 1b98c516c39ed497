/**
 * The soak test's server, run in a child process of its own (`node --expose-gc`), so that its heap
 * is measured apart from jest's. Compiled with test/soak/tsconfig.json into dist/soak.
 *
 * Environment: SOAK_ADAPTER (`express` | `fastify`), SOAK_CAP (maxSeriesPerMetric).
 * IPC: sends `{ type: 'ready', port, routes }`; answers `{ type: 'heap' }` with the heap used after
 * forced garbage collections; closes the app on `{ type: 'stop' }`.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Controller, Get, type INestApplication, Module, Param, Query, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import { Counter, PrometheusModule } from '../../lib/index.js';

const adapterName = process.env.SOAK_ADAPTER === 'fastify' ? 'fastify' : 'express';
const cap = Number(process.env.SOAK_CAP ?? 1000);

@Controller('items')
class ItemsController {
  @Get()
  list(@Query('page') page?: string): { page: number } {
    return { page: Number(page) || 0 };
  }

  @Get(':id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Controller('users')
class UsersController {
  /** A label fed from the request: one series per user id, up to the cap. */
  @Get(':userId/orders')
  @Counter({
    name: 'soak_user_orders_total',
    help: 'Order lookups by user',
    labels: { user: ctx => String(ctx.args[0]) },
  })
  orders(@Param('userId') userId: string): { user: string; orders: number[] } {
    return { user: userId, orders: [1, 2, 3] };
  }
}

@Controller('search')
class SearchController {
  @Get()
  search(@Query('q') q?: string | string[]): { q: string; hits: number } {
    return { q: String(q ?? '').slice(0, 32), hits: (q ?? '').length };
  }
}

const CONTROLLERS: Type[] = [ItemsController, UsersController, SearchController];

@Module({
  imports: [PrometheusModule.forRoot({ registry: new Registry(), maxSeriesPerMetric: cap })],
  controllers: CONTROLLERS,
})
class SoakModule {}

/** Route handlers of the app's controllers (the metrics endpoint aside), from Nest's metadata. */
function countRoutes(): number {
  let routes = 0;
  for (const controller of CONTROLLERS) {
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (name !== 'constructor' && typeof handler === 'function' && Reflect.getMetadata('path', handler) !== undefined)
        routes++;
    }
  }
  return routes;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

async function heapAfterGc(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise(resolve => setImmediate(resolve));
    gc!();
    least = Math.min(least, process.memoryUsage().heapUsed);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  return least;
}

const app: INestApplication = await NestFactory.create(
  SoakModule,
  adapterName === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
  { logger: false },
);
await app.listen(0, '127.0.0.1');
const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;

process.on('message', (message: { type: string }) => void onMessage(message));

async function onMessage(message: { type: string }): Promise<void> {
  if (message.type === 'heap') {
    process.send!({ type: 'heap', heapUsed: await heapAfterGc(), rss: process.memoryUsage().rss });
  } else if (message.type === 'stop') {
    await app.close();
    process.exit(0);
  }
}
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', port, routes: countRoutes() });
