import { Body, Controller, Get, Module, Param, ParseIntPipe, Post } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { isolatedPrometheus, readRegistry } from './utils/app.js';
import { sampleValue, sumOf } from './utils/exposition.js';

@Controller('things')
class ThingsController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): { id: number } {
    return { id };
  }

  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

// Early @nestjs/platform-express 11 releases (11.0.0) have no request hook: the module puts a layer of its own
// ahead of Nest's body parser instead.
describe('Express adapter without setOnRequestHook (as in @nestjs/platform-express 11.0.0)', () => {
  it('counts every response once, including body-parser errors and 404s', async () => {
    const registry = new Registry();
    @Module({ imports: [isolatedPrometheus(registry)], controllers: [ThingsController] })
    class AppModule {}
    const adapter = new ExpressAdapter();
    Object.defineProperty(adapter, 'setOnRequestHook', { value: undefined });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication(adapter, { logger: false });
    await app.init();
    const server = app.getHttpServer();

    await request(server).get('/things/1').expect(200);
    await request(server).get('/things/x').expect(400);
    await request(server).post('/things').set('content-type', 'application/json').send('{"bad').expect(400);
    await request(server).get('/nothing').expect(404);

    const exp = await readRegistry(registry);
    const count = (route: string, status: string, method = 'GET') =>
      sampleValue(exp, 'http_requests_total', { method, route, status_code: status });
    expect(count('/things/:id', '200')).toBe(1);
    expect(count('/things/:id', '400')).toBe(1);
    expect(count('/things', '400', 'POST')).toBe(1);
    expect(count('__unmatched__', '404')).toBe(1);
    expect(sumOf(exp, 'http_requests_total')).toBe(4);
    expect(sumOf(exp, 'http_requests_in_progress')).toBe(0);
    await app.close();
  });
});
