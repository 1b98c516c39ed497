import { Injectable } from '@nestjs/common';
import type { Counter as PromCounter } from 'prom-client';
import { Counter, Gauge, Histogram, InjectMetric, Summary } from '../lib/index.js';
import { PaymentProvider } from './payment-provider.js';

export class PaymentDeclinedError extends Error {}

export interface Order {
  id: number;
  amount: number;
}

/** One decorator value, put on several methods: one metric. */
const countOrderCalls = Counter({
  name: 'orders_service_calls_total',
  help: 'Calls of OrdersService methods, by outcome',
  labels: { outcome: ctx => (ctx.error ? 'error' : 'ok') },
});

@Injectable()
export class OrdersService {
  private nextId = 1;

  constructor(
    // Declared with makeCounterProvider() in AppModule.
    @InjectMetric('orders_refunds_total') private readonly refunds: PromCounter<'reason'>,
    private readonly payments: PaymentProvider,
  ) {}

  @countOrderCalls
  @Histogram({
    name: 'orders_payment_seconds',
    help: 'Time taken by the payment provider',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1],
    labels: { currency: 'EUR' },
  })
  @Gauge({ name: 'orders_payments_in_progress', help: 'Payments being processed now' })
  async place(amount: number): Promise<Order> {
    if (!(await this.payments.charge(amount))) throw new PaymentDeclinedError(`payment of ${amount} declined`);
    return { id: this.nextId++, amount };
  }

  @countOrderCalls
  @Counter({
    name: 'orders_failed_total',
    help: 'Orders that failed, by error',
    on: 'error',
    labels: { error: ctx => (ctx.error as Error).constructor.name },
  })
  @Summary({ name: 'orders_lookup_seconds', help: 'Order lookups', percentiles: [0.5, 0.9, 0.99] })
  async find(id: number): Promise<Order> {
    await new Promise(resolve => setTimeout(resolve, 1 + Math.random() * 10));
    return { id, amount: 42 };
  }

  refund(reason: 'damaged' | 'late'): void {
    this.refunds.inc({ reason });
  }
}
