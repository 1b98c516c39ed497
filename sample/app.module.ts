import cluster from 'node:cluster';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { type DynamicModule, Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { Counter } from 'prom-client';
import { type HttpRequestInfo, makeCounterProvider, PrometheusModule } from '../lib/index.js';
import { CatalogResolver } from './catalog.resolver.js';
import { HealthController } from './health.controller.js';
import { NotificationsGateway } from './notifications.gateway.js';
import { OrdersEventsController } from './orders-events.controller.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { PaymentProvider } from './payment-provider.js';
import { SlowController } from './slow.controller.js';
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
        // Native histograms of the request duration for scrapers that ask for protobuf (README: Native histograms).
        nativeHistograms: process.env.NATIVE_HISTOGRAMS === 'true',
        observe: [(info: HttpRequestInfo) => responseBytes.inc({ route: info.route }, info.responseSize)],
      },
      // Calls to the payment provider (fetch) are measured as http_client_* metrics.
      httpClient: { enabled: true },
      info: { version: '0.1.0' },
      // Under node:cluster (sample/cluster.ts), /metrics answers for every worker.
      cluster: cluster.isWorker,
      // A live page of the RED metrics at /api/metrics/status (under the app's global prefix).
      statusPage: true,
    }),
  ],
  controllers: [UsersController, OrdersController, HealthController, OrdersEventsController, SlowController],
  providers: [
    OrdersService,
    PaymentProvider,
    NotificationsGateway,
    CatalogResolver,
    makeCounterProvider({ name: 'orders_refunds_total', help: 'Refunds, by reason', labelNames: ['reason'] }),
  ],
})
export class AppModule {
  /** GraphQL on `/graphql`: Apollo on Express, Mercurius on Fastify (each driver loaded only when used). */
  static async forAdapter(adapter: 'express' | 'fastify'): Promise<DynamicModule> {
    if (adapter === 'fastify') {
      const { MercuriusDriver } = await import('@nestjs/mercurius');
      const graphql = GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true });
      return { module: AppModule, imports: [graphql] };
    }
    const { ApolloDriver } = await import('@nestjs/apollo');
    const graphql = GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true });
    return { module: AppModule, imports: [graphql] };
  }
}
