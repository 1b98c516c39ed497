// README, Quick start: the example's module booted on each adapter, sent the request the README
// names; the scrape must show the README's output block. A file of its own: the example's
// decorator metric would otherwise show up in the other specs' scrapes.
import type { Type } from '@nestjs/common';
import request from 'supertest';
import { ADAPTERS } from '../utils/app.js';
import { appPerTest, expectScrapeToShow, generated } from './readme-utils.js';

describe.each(ADAPTERS)('README Quick start on %s', adapter => {
  const boot = appPerTest(adapter);

  it('Quick start: GET /orders/42 shows in the HTTP metrics and the decorator counter', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('quick-start');
    const app = await boot({ imports: [AppModule] });
    await request(app.getHttpServer()).get('/orders/42').expect(200, { id: '42' });
    const scraped = await request(app.getHttpServer()).get('/metrics').expect(200);
    expectScrapeToShow(scraped.text, 'quick-start-output');
  });
});
