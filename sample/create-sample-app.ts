import 'reflect-metadata';
import { RequestMethod, VersioningType, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/** `ADAPTER=fastify npm start` runs the same app on Fastify. */
export async function createSampleApp(adapter = process.env.ADAPTER ?? 'express'): Promise<INestApplication> {
  let app: INestApplication;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(AppModule, new FastifyAdapter());
  } else {
    app = await NestFactory.create(AppModule);
  }
  app.setGlobalPrefix('api', { exclude: [{ path: 'metrics', method: RequestMethod.GET }, 'health'] });
  app.enableVersioning({ type: VersioningType.URI });
  app.enableShutdownHooks();
  return app;
}
