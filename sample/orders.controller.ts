import { Body, Controller, Get, Param, ParseIntPipe, Post, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard.js';

export class PaymentDeclinedError extends Error {}

@Controller({ path: 'orders', version: '1' })
export class OrdersController {
  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number): Promise<{ id: number; status: string }> {
    await new Promise(resolve => setTimeout(resolve, 5 + Math.random() * 20));
    return { id, status: 'shipped' };
  }

  /** Needs `x-api-key: sample`; amounts over 1000 fail with an unhandled error (a 500). */
  @Post()
  @UseGuards(ApiKeyGuard)
  create(@Body() body: { amount?: number }): { id: number; amount: number } {
    const amount = Number(body.amount ?? 0);
    if (amount > 1000) throw new PaymentDeclinedError(`payment of ${amount} declined`);
    return { id: Date.now(), amount };
  }
}
