import { Module } from '@nestjs/common';
import { PrometheusModule } from '../lib/index.js';
import { HealthController } from './health.controller.js';
import { OrdersController } from './orders.controller.js';
import { UsersController } from './users.controller.js';

@Module({
  imports: [
    PrometheusModule.forRoot({
      defaultLabels: { app: 'sample' },
      http: { excludeMethods: ['OPTIONS'] },
    }),
  ],
  controllers: [UsersController, OrdersController, HealthController],
})
export class AppModule {}
