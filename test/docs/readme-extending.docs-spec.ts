// README, Extending the HTTP metrics: the example's module, run.
import type { Type } from '@nestjs/common';
import request from 'supertest';
import { ADAPTERS, scrape } from '../utils/app.js';
import { sampleValue } from '../utils/exposition.js';
import { appPerTest, generated } from './readme-utils.js';

describe.each(ADAPTERS)('README Extending the HTTP metrics example on %s', adapter => {
  const boot = appPerTest(adapter);

  it('Extending the HTTP metrics: observe, a tenant label, a renamed counter and the summary', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('extending-http');
    const { Controller, Get } = await import('@nestjs/common');
    @Controller('items')
    class ItemsController {
      @Get()
      list() {
        return [];
      }
    }
    const app = await boot({ imports: [AppModule], controllers: [ItemsController] });
    await request(app.getHttpServer()).get('/items').set('x-tenant', 'acme').expect(200);
    await request(app.getHttpServer()).get('/items').expect(200);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'api_requests_total', { route: '/items', tenant: 'acme' })).toBe(1);
    expect(sampleValue(exp, 'api_requests_total', { route: '/items', tenant: 'none' })).toBe(1);
    expect(exp.families.get('http_requests_total')).toBeUndefined();
    expect(exp.families.get('http_request_size_bytes')).toBeUndefined();
    expect(exp.families.get('http_request_duration_seconds')?.type).toBe('summary');
    expect(exp.families.get('slow_requests_total')?.type).toBe('counter');
  });
});
