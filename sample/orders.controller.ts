import { Body, Controller, Get, Param, ParseIntPipe, Post, UseGuards } from '@nestjs/common';
import { Counter } from '../lib/index.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { type Order, OrdersService } from './orders.service.js';

@Controller({ path: 'orders', version: '1' })
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): Promise<Order> {
    return this.orders.find(id);
  }

  /** Needs `x-api-key: sample`; amounts over 1000 fail with an unhandled error (a 500). */
  @Post()
  @UseGuards(ApiKeyGuard)
  @Counter({
    name: 'orders_created_by_client_total',
    help: 'Order requests, by client (a header read by a label function)',
    labels: {
      client: ctx =>
        String(
          (ctx.request as { headers: Record<string, string | string[] | undefined> }).headers['x-client'] ?? 'unknown',
        ),
    },
  })
  create(@Body() body: { amount?: number | string }): Promise<Order> {
    return this.orders.place(Number(body.amount ?? 0));
  }

  @Post(':id/refund')
  refund(@Param('id', ParseIntPipe) _id: number, @Body() body: { reason?: 'damaged' | 'late' }): { refunded: boolean } {
    this.orders.refund(body.reason === 'late' ? 'late' : 'damaged');
    return { refunded: true };
  }
}
