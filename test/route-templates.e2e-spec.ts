import { Controller, Get, type INestApplication, Module, Param } from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { ADAPTERS, createApp, isolatedPrometheus, readRegistry } from './utils/app.js';
import { findSamples } from './utils/exposition.js';

@Controller('files')
class FilesController {
  @Get('meta/:name')
  meta(@Param('name') name: string): { name: string } {
    return { name };
  }

  @Get('*')
  file(): string {
    return 'content';
  }
}

describe.each(ADAPTERS)('route templates on %s', adapter => {
  let app: INestApplication;
  const registry = new Registry();

  beforeAll(async () => {
    @Module({ imports: [isolatedPrometheus(registry)], controllers: [FilesController] })
    class AppModule {}
    app = await createApp(adapter, { imports: [AppModule] });
  });
  afterAll(() => app.close());

  it('labels a wildcard route "*" on both adapters (Express calls it {*path}), never with the raw path', async () => {
    await request(app.getHttpServer()).get('/files/a/b/c.txt').expect(200);
    await request(app.getHttpServer()).get('/files/d.txt').expect(200);
    await request(app.getHttpServer()).get('/files/meta/readme').expect(200);

    const routes = Object.fromEntries(
      findSamples(await readRegistry(registry), 'http_requests_total').map(s => [s.labels.route, s.value]),
    );
    expect(routes).toEqual({ '/files/*': 2, '/files/meta/:name': 1 });
  });
});
