import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { Counter } from '../lib/index.js';

/**
 * Microservice handlers (TCP on RPC_PORT, beside the HTTP API): measured as rpc_* metrics, with
 * the handler's declared pattern as the label.
 */
@Controller()
export class OrdersEventsController {
  @MessagePattern({ cmd: 'orders.total' })
  total(@Payload() amounts: number[]): number {
    if (!Array.isArray(amounts)) throw new RpcException('amounts must be an array');
    return amounts.reduce((sum, amount) => sum + amount, 0);
  }

  @EventPattern('orders.shipped')
  @Counter({
    name: 'orders_shipped_total',
    help: 'Shipping events received, by carrier',
    labels: { carrier: ctx => (ctx.args[0] as { carrier?: string } | undefined)?.carrier ?? 'unknown' },
  })
  shipped(@Payload() _event: { carrier?: string }): void {}
}
