// README, Native histograms: the `@Histogram` and `makeHistogramProvider` example, run and scraped
// over protobuf (the only exposition that carries native buckets).
import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { Histogram } from 'prom-client';
import request from 'supertest';
import { getMetricToken } from 'nestjs-prom-metrics';
import { ADAPTERS } from '../utils/app.js';
import {
  decodeProtobufExposition,
  type DecodedFamily,
  labelsOf,
  PROMETHEUS_PROTOBUF_ACCEPT,
} from '../utils/protobuf-exposition.js';
import { appPerTest, generated } from './readme-utils.js';

/** The response body as bytes, whatever its type (supertest would parse text and JSON). */
function binary(res: NodeJS.ReadableStream, done: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

async function scrapeProtobuf(app: INestApplication): Promise<Map<string, DecodedFamily>> {
  const res = await request(app.getHttpServer())
    .get('/metrics')
    .set('Accept', PROMETHEUS_PROTOBUF_ACCEPT)
    .buffer(true)
    .parse(binary as never)
    .expect(200);
  return new Map(decodeProtobufExposition(res.body as Buffer).map(f => [f.name, f]));
}

describe.each(ADAPTERS)('README Native histograms example on %s', adapter => {
  const boot = appPerTest(adapter);

  it('@Histogram and makeHistogramProvider with nativeHistograms: native buckets in the protobuf scrape', async () => {
    const { ReportsService, jobsRunSeconds } = await generated<{
      ReportsService: Type<{ build(): Promise<string> }>;
      jobsRunSeconds: Provider;
    }>('native-histograms-decorator');
    const { AppModule } = await generated<{ AppModule: Type }>('usage');
    const app = await boot({ imports: [AppModule], providers: [ReportsService, jobsRunSeconds] });
    await app.get(ReportsService).build();
    await app.get(ReportsService).build();
    app.get<Histogram>(getMetricToken('jobs_run_seconds')).observe({ queue: 'mail' }, 2);

    const families = await scrapeProtobuf(app);
    const reports = families.get('reports_build_seconds')!.metric[0].histogram!;
    expect(reports.sample_count).toBe(2);
    // bucketFactor 1.05: schema 4, buckets 2^(1/16) ≈ 1.044 wide.
    expect(reports.schema).toBe(4);
    const jobs = families.get('jobs_run_seconds')!.metric.find(m => labelsOf(m).queue === 'mail')!.histogram!;
    expect([jobs.sample_count, jobs.sample_sum, jobs.schema]).toEqual([1, 2, 3]);
  });
});
