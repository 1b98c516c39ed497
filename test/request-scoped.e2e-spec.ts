import {
  type CanActivate,
  Controller,
  Get,
  Inject,
  Injectable,
  type INestApplication,
  Module,
  Param,
  Scope,
  UseGuards,
} from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Counter, DoNotTrack, Histogram } from '../lib/index.js';
import { ADAPTERS, createApp, isolatedPrometheus, readRegistry } from './utils/app.js';
import { sampleValue, sumOf } from './utils/exposition.js';

/** Created per request: decorators are applied to its prototype. */
@Injectable({ scope: Scope.REQUEST })
class TenantService {
  constructor(@Inject(REQUEST) private readonly req: { headers: Record<string, string | undefined> }) {}

  @Counter({
    name: 'rs_tenant_lookups_total',
    help: 'lookups',
    labels: { tenant: c => (c.instance as TenantService).tenant() },
  })
  lookup(id: string): string {
    return `${this.tenant()}:${id}`;
  }

  tenant(): string {
    return this.req.headers['x-tenant'] ?? 'none';
  }
}

class Deny implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Request-scoped because its dependency is. */
@Controller('rs')
class TenantController {
  constructor(private readonly tenants: TenantService) {}

  @Get('items/:id')
  @Histogram({ name: 'rs_handler_seconds', help: 'handler time', labels: { route: 'items' } })
  item(@Param('id') id: string): { item: string } {
    return { item: this.tenants.lookup(id) };
  }

  @Get('hidden')
  @DoNotTrack()
  @UseGuards(Deny)
  hidden(): string {
    return 'never';
  }
}

describe.each(ADAPTERS)('request-scoped classes on %s', adapter => {
  let app: INestApplication;
  const registry = new Registry();

  beforeAll(async () => {
    @Module({ imports: [isolatedPrometheus(registry)], controllers: [TenantController], providers: [TenantService] })
    class AppModule {}
    app = await createApp(adapter, { imports: [AppModule] });
  });
  afterAll(() => app.close());

  it('instruments decorated methods of request-scoped providers and controllers; @DoNotTrack holds', async () => {
    const server = app.getHttpServer();
    await request(server).get('/rs/items/1').set('x-tenant', 'acme').expect(200, { item: 'acme:1' });
    await request(server).get('/rs/items/2').set('x-tenant', 'acme').expect(200);
    await request(server).get('/rs/items/3').set('x-tenant', 'globex').expect(200);
    await request(server).get('/rs/hidden').expect(403);

    const exp = await readRegistry(registry);
    expect(sampleValue(exp, 'rs_tenant_lookups_total', { tenant: 'acme' })).toBe(2);
    expect(sampleValue(exp, 'rs_tenant_lookups_total', { tenant: 'globex' })).toBe(1);
    expect(sampleValue(exp, 'rs_handler_seconds_count', { route: 'items' })).toBe(3);
    expect(sampleValue(exp, 'http_requests_total', { route: '/rs/items/:id', status_code: '200' })).toBe(3);
    expect(sumOf(exp, 'http_requests_total', { route: '/rs/hidden' })).toBe(0);
  });
});
