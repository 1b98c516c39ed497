import cluster from 'node:cluster';
import { Module } from '@nestjs/common';
import { Counter } from 'prom-client';
import { type HttpRequestInfo, makeCounterProvider, PrometheusModule } from '../lib/index.js';
import { HealthController } from './health.controller.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { PaymentProvider } from './payment-provider.js';
import { UsersController } from './users.controller.js';

/** A metric of our own, fed by an `http.observe` callback with what the module measured. */
const responseBytes = new Counter({
  name: 'http_response_bytes_total',
  help: 'Bytes sent in HTTP response bodies, by route',
  labelNames: ['route'],
});

@Module({
  imports: [
    PrometheusModule.forRoot({
      defaultLabels: { app: 'sample' },
      http: {
        excludeMethods: ['OPTIONS'],
        observe: [(info: HttpRequestInfo) => responseBytes.inc({ route: info.route }, info.responseSize)],
      },
      // Calls to the payment provider (fetch) are measured as http_client_* metrics.
      httpClient: { enabled: true },
      info: { version: '0.1.0' },
      // Under node:cluster (sample/cluster.ts), /metrics answers for every worker.
      cluster: cluster.isWorker,
    }),
  ],
  controllers: [UsersController, OrdersController, HealthController],
  providers: [
    OrdersService,
    PaymentProvider,
    makeCounterProvider({ name: 'orders_refunds_total', help: 'Refunds, by reason', labelNames: ['reason'] }),
  ],
})
export class AppModule {}
