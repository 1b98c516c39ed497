import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createSampleApp } from './create-sample-app.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  const rpcPort = Number(process.env.RPC_PORT ?? port + 1);
  const app = await createSampleApp(undefined, { rpcPort });
  await app.startAllMicroservices();
  await app.listen(port, host);
  const logger = new Logger('Sample');
  logger.log(`API on http://${host}:${port}/api/v1/users`);
  logger.log(`GraphQL on http://${host}:${port}/graphql, WebSocket on ws://${host}:${port}/ws`);
  logger.log(`Microservice (TCP) on ${host}:${rpcPort}`);
  logger.log(`Metrics on http://${host}:${port}/metrics`);
  logger.log(`Status page on http://${host}:${port}/api/metrics/status`);
}

void main();
