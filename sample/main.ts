import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createSampleApp } from './create-sample-app.js';

async function main(): Promise<void> {
  const app = await createSampleApp();
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen(port, host);
  const logger = new Logger('Sample');
  logger.log(`API on http://${host}:${port}/api/v1/users`);
  logger.log(`Metrics on http://${host}:${port}/metrics`);
}

void main();
