import 'reflect-metadata';
import cluster from 'node:cluster';
import { Logger } from '@nestjs/common';
import { PrometheusCluster } from '../lib/index.js';
import { createSampleApp } from './create-sample-app.js';

/**
 * The sample app on `WORKERS` cluster workers sharing `PORT`. Each worker's `/metrics` answers
 * with the metrics of all workers, aggregated by the primary (`cluster: cluster.isWorker` in
 * AppModule); with `METRICS_PORT` the primary serves them on a port of its own too.
 *
 *   npm run build:sample && WORKERS=2 node dist/sample/sample/cluster.js
 */
async function primary(): Promise<void> {
  const logger = new Logger('Primary');
  const host = process.env.HOST ?? '127.0.0.1';
  const metricsPort = process.env.METRICS_PORT === undefined ? undefined : Number(process.env.METRICS_PORT);
  const metrics = await PrometheusCluster.setupPrimary({ port: metricsPort, host });
  const address = metrics.address();
  if (address) logger.log(`Aggregated metrics on http://${host}:${address.port}/metrics`);

  let stopping = false;
  const workers = Number(process.env.WORKERS ?? 2);
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.warn(`worker ${worker.process.pid} exited (${signal ?? code}): starting another`);
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    void metrics.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function worker(): Promise<void> {
  const app = await createSampleApp();
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen(port, host);
  new Logger('Worker').log(`worker ${process.pid} serving http://${host}:${port} (aggregated metrics on /metrics)`);
}

void (cluster.isPrimary ? primary() : worker());
