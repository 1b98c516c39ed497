import 'reflect-metadata';
import { Controller, Get, Param, ParseIntPipe, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ExpressAdapter } from '@nestjs/platform-express';
import request from 'supertest';
import { Registry } from 'prom-client';
import { PrometheusModule } from '../lib/index.js';

@Controller('users')
class UsersController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return { id };
  }
}

describe.each(['express', 'fastify'])('smoke %s', adapter => {
  let app: INestApplication;
  beforeAll(async () => {
    const registry = new Registry();
    @Module({ imports: [PrometheusModule.forRoot({ registry })], controllers: [UsersController] })
    class AppModule {}
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = ref.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter());
    app.setGlobalPrefix('api');
    await app.init();
    if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  it('counts', async () => {
    await request(app.getHttpServer()).get('/api/users/7').expect(200);
    await request(app.getHttpServer()).get('/api/users/abc').expect(400);
    await request(app.getHttpServer()).get('/nope').expect(404);
    await request(app.getHttpServer()).post('/api/users/1').set('content-type', 'application/json').send('{bad').expect(400);
    const res = await request(app.getHttpServer()).get('/api/metrics').expect(200);
    console.log(res.text.split('\n').filter(l => l.startsWith('http_') && !l.includes('_bucket')).join('\n'));
  });
});
