// README, Method decorators: the example's OrdersService, run.
import type { Type } from '@nestjs/common';
import { ADAPTERS, scrape } from '../utils/app.js';
import { sampleValue } from '../utils/exposition.js';
import { appPerTest, generated } from './readme-utils.js';

describe.each(ADAPTERS)('README Method decorators example on %s', adapter => {
  const boot = appPerTest(adapter);

  it('Method decorators: place(10) and place(0) give the counts the README states', async () => {
    const { OrdersService } = await generated<{
      OrdersService: Type<{ place(amount: number): Promise<unknown> }>;
    }>('method-decorators');
    const { AppModule } = await generated<{ AppModule: Type }>('usage');
    const app = await boot({ imports: [AppModule], providers: [OrdersService] });
    const orders = app.get(OrdersService);
    await expect(orders.place(10)).resolves.toEqual({ id: 1, amount: 10 });
    await expect(orders.place(0)).rejects.toThrow('amount must be positive');
    const exp = await scrape(app);
    expect(sampleValue(exp, 'orders_placed_total', { outcome: 'ok' })).toBe(1);
    expect(sampleValue(exp, 'orders_placed_total', { outcome: 'error' })).toBe(1);
    expect(sampleValue(exp, 'orders_payment_seconds_count')).toBe(2);
    expect(sampleValue(exp, 'orders_payments_in_progress')).toBe(0);
  });
});
