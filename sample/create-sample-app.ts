import 'reflect-metadata';
import { RequestMethod, VersioningType, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module.js';

/**
 * `ADAPTER=fastify npm start` runs the same app on Fastify. With `rpcPort`, the app also answers
 * microservice messages over TCP on that port (a hybrid app; `app.startAllMicroservices()` starts it).
 */
export async function createSampleApp(
  adapter = process.env.ADAPTER ?? 'express',
  options: { rpcPort?: number } = {},
): Promise<INestApplication> {
  let app: INestApplication;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(await AppModule.forAdapter('fastify'), new FastifyAdapter());
  } else {
    app = await NestFactory.create(await AppModule.forAdapter('express'));
  }
  app.useWebSocketAdapter(new WsAdapter(app));
  if (options.rpcPort !== undefined) {
    app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: options.rpcPort } });
  }
  app.setGlobalPrefix('api', { exclude: [{ path: 'metrics', method: RequestMethod.GET }, 'health'] });
  app.enableVersioning({ type: VersioningType.URI });
  app.enableShutdownHooks();
  return app;
}
