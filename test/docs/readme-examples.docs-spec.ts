// The README's examples, run: each block with an id is imported from test/docs/.generated/ (written
// from README.md by readme-blocks.mjs), booted on Express and Fastify, and sent the requests its text
// names. Blocks that only start a process (the cluster and Pushgateway mains) are type-checked, not
// run. Examples that define the same metric differently are in files of their own (one registry each).
import { CanActivate, ExecutionContext, Injectable, type Type } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { register } from 'prom-client';
import request from 'supertest';
import { ADAPTERS, createApp, scrape } from '../utils/app.js';
import { findSamples, sampleValue, sumOf } from '../utils/exposition.js';
import { getMetricValue } from 'nestjs-prom-metrics/testing';
import { appPerTest, generated } from './readme-utils.js';

describe.each(ADAPTERS)('README examples on %s', adapter => {
  const boot = appPerTest(adapter);

  it('Usage: one import serves /metrics with the HTTP and process metrics', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('usage');
    const app = await boot({ imports: [AppModule] });
    await request(app.getHttpServer()).get('/nope').expect(404);
    const exp = await scrape(app);
    expect(sampleValue(exp, 'http_requests_total', { route: '__unmatched__', status_code: '404' })).toBe(1);
    expect(exp.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });

  it('forRootAsync: labels from ConfigService, and an unset SERVICE_NAME stops the app', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('for-root-async');
    delete process.env.SERVICE_NAME;
    await expect(createApp(adapter, { imports: [AppModule] })).rejects.toThrow(/SERVICE_NAME/);

    process.env.SERVICE_NAME = 'orders';
    process.env.METRICS_PATH = '/internal/metrics';
    const app = await boot({ imports: [AppModule] });
    await request(app.getHttpServer()).get('/metrics').expect(404);
    const exp = await scrape(app, '/internal/metrics');
    expect(exp.samples.length).toBeGreaterThan(0);
    expect(exp.samples.filter(s => s.labels.service !== 'orders').map(s => s.name)).toEqual([]);
  });

  it('Status page: the page and its data answer, and are never counted', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('status-page');
    const app = await boot({ imports: [AppModule] });
    const page = await request(app.getHttpServer()).get('/metrics/status').expect(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const data = await request(app.getHttpServer()).get('/metrics/status.json').expect(200);
    expect(data.body).toMatchObject({ version: 1, refreshSeconds: 5, historyMinutes: 15 });
    expect(sumOf(await scrape(app), 'http_requests_total')).toBe(0);
  });

  it('@DoNotTrack(): the health controller answers and is never counted', async () => {
    const { HealthController } = await generated<{ HealthController: Type }>('do-not-track');
    const { AppModule } = await generated<{ AppModule: Type }>('usage');
    const app = await boot({ imports: [AppModule], controllers: [HealthController] });
    await request(app.getHttpServer()).get('/health').expect(200, { status: 'ok' });
    const exp = await scrape(app);
    expect(findSamples(exp, 'http_requests_total', { route: '/health' })).toEqual([]);
    expect(sumOf(exp, 'http_requests_total')).toBe(0);
  });

  it('Protecting the endpoint: the basic-auth guard fails closed and compares the credentials', async () => {
    const { AppModule } = await generated<{ AppModule: Type }>('basic-auth-guard');
    delete process.env.METRICS_USER;
    delete process.env.METRICS_PASSWORD;
    await expect(createApp(adapter, { imports: [AppModule] })).rejects.toThrow(/METRICS_USER is not set/);
    process.env.METRICS_USER = 'prometheus';
    await expect(createApp(adapter, { imports: [AppModule] })).rejects.toThrow(/METRICS_PASSWORD is not set/);

    process.env.METRICS_PASSWORD = 's3cret';
    const app = await boot({ imports: [AppModule] });
    const server = app.getHttpServer();
    await request(server).get('/metrics').expect(401);
    await request(server).get('/metrics').auth('prometheus', 'wrong').expect(401);
    await request(server).get('/metrics').auth('undefined', 'undefined').expect(401);
    await request(server).get('/metrics').auth('prometheus', 's3cret').expect(200);
  });

  it('Public(): a global guard that skips public handlers lets Prometheus in', async () => {
    const { AppModule, IS_PUBLIC } = await generated<{ AppModule: Type; IS_PUBLIC: string }>('public-endpoint');
    @Injectable()
    class DenyUnlessPublic implements CanActivate {
      constructor(private readonly reflector: Reflector) {}
      canActivate(context: ExecutionContext): boolean {
        return this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
      }
    }
    const { HealthController } = await generated<{ HealthController: Type }>('do-not-track');
    const app = await boot({
      imports: [AppModule],
      controllers: [HealthController],
      providers: [{ provide: APP_GUARD, useClass: DenyUnlessPublic }],
    });
    await request(app.getHttpServer()).get('/health').expect(403);
    await request(app.getHttpServer()).get('/metrics').expect(200);
  });

  it('Injectable metrics: the RefundsModule works with PrometheusModule.forRoot() and without it', async () => {
    const { RefundsModule, RefundsService } = await generated<{
      RefundsModule: Type;
      RefundsService: Type<{ refund(orderId: number, reason: string): unknown }>;
    }>('injectable-metrics');
    const { AppModule } = await generated<{ AppModule: Type }>('usage');
    const app = await boot({ imports: [AppModule, RefundsModule] });
    expect(app.get(RefundsService).refund(3, 'late')).toEqual({ orderId: 3 });
    expect(sampleValue(await scrape(app), 'orders_refunds_total', { reason: 'late' })).toBe(1);
    await app.close();

    // Alone, as in a unit test of the feature module: the metric lands in prom-client's registry.
    const alone = await boot({ imports: [RefundsModule] });
    alone.get(RefundsService).refund(4, 'damaged');
    expect(await getMetricValue(register, 'orders_refunds_total', { reason: 'damaged' })).toBe(1);
  });
});
