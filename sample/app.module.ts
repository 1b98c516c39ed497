import cluster from 'node:cluster';
import { Module } from '@nestjs/common';
import { makeCounterProvider, PrometheusModule } from '../lib/index.js';
import { HealthController } from './health.controller.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { UsersController } from './users.controller.js';

@Module({
  imports: [
    PrometheusModule.forRoot({
      defaultLabels: { app: 'sample' },
      http: { excludeMethods: ['OPTIONS'] },
      info: { version: '0.1.0' },
      // Under node:cluster (sample/cluster.ts), /metrics answers for every worker.
      cluster: cluster.isWorker,
    }),
  ],
  controllers: [UsersController, OrdersController, HealthController],
  providers: [
    OrdersService,
    makeCounterProvider({ name: 'orders_refunds_total', help: 'Refunds, by reason', labelNames: ['reason'] }),
  ],
})
export class AppModule {}
