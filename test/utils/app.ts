import 'reflect-metadata';
import {
  type DynamicModule,
  type INestApplication,
  type INestApplicationContext,
  Module,
  type ModuleMetadata,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Registry } from 'prom-client';
import request from 'supertest';
import { PrometheusModule } from '../../lib/index.js';
import { parseExposition, type Exposition } from './exposition.js';

export type AdapterName = 'express' | 'fastify';
export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

/**
 * Builds and initialises an app on the given adapter. `configure` runs before `init()`
 * (global prefix, versioning, global pipes/filters/interceptors).
 */
export async function createApp(
  adapter: AdapterName,
  metadata: ModuleMetadata,
  configure?: (app: INestApplication) => void,
  options: { bodyLimit?: number } = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(
          new FastifyAdapter(options.bodyLimit ? { bodyLimit: options.bodyLimit } : undefined),
          { logger: false },
        );
  if (adapter === 'express' && options.bodyLimit) {
    (app as NestExpressApplication).useBodyParser('json', { limit: options.bodyLimit });
  }
  configure?.(app);
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** GETs the metrics endpoint and parses it strictly. */
export async function scrape(app: INestApplication, path = '/metrics'): Promise<Exposition> {
  const res = await request(app.getHttpServer()).get(path).expect(200);
  return parseExposition(res.text);
}

/** The module under test on a registry of its own, without prom-client's process metrics. */
export function isolatedPrometheus(registry: Registry): DynamicModule {
  return PrometheusModule.forRoot({ registry, defaultMetrics: { enabled: false } });
}

/** A registry's exposition, parsed strictly. */
export async function readRegistry(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

/** A non-HTTP application (`NestFactory.createApplicationContext`, no HTTP adapter), not yet initialised. */
export async function createContext(metadata: ModuleMetadata): Promise<INestApplicationContext> {
  @Module(metadata)
  class ContextModule {}
  return NestFactory.createApplicationContext(ContextModule, { logger: false, abortOnError: false });
}
