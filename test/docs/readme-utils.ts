// Shared by the README specs: the README's blocks, imported or compared with a scrape.
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { register } from 'prom-client';
import { type AdapterName, createApp } from '../utils/app.js';
import { readBlocks } from './readme-blocks.mjs';

const blocks = readBlocks();

/** The README output block with this id, as lines of `name{labels} value` (`...` and comments left out). */
export function outputBlock(id: string): string[] {
  const block = blocks.find(b => b.id === id);
  if (!block) throw new Error(`README.md has no block with id ${id}`);
  return block.code.split('\n').filter(l => l.trim() && l !== '...' && !l.startsWith('#'));
}

/**
 * Every line of the README block must be in the scrape with the same name and labels, in the same
 * order. Counts must be equal; durations (`_sum`, `_bucket`, quantiles) depend on the machine and
 * are only required to be numbers.
 */
export function expectScrapeToShow(text: string, id: string): void {
  const scraped = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) scraped.set(m[1], m[2]);
  }
  const mismatches: string[] = [];
  for (const line of outputBlock(id)) {
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) {
      mismatches.push(`unreadable README line: ${line}`);
      continue;
    }
    const [, series, value] = m;
    const got = scraped.get(series);
    const timing = /_sum\{|_bucket\{|quantile="/.test(series);
    if (got === undefined) mismatches.push(`missing from the scrape: ${series}`);
    else if (timing ? !Number.isFinite(Number(got)) : Number(got) !== Number(value)) {
      mismatches.push(`${series}: README shows ${value}, the scrape has ${got}`);
    }
  }
  expect(mismatches).toEqual([]);
}

export async function generated<T>(id: string): Promise<T> {
  return (await import(`./.generated/${id}.js`)) as T;
}

/**
 * One app per test, as the README specs that boot examples need: registers the hooks (metric values
 * zeroed before each test; after it, the test's app closed and `process.env` restored, since the
 * examples read their settings from it) and returns `boot`, which creates the app on `adapter` and
 * remembers it for closing.
 *
 * @example
 * describe.each(ADAPTERS)('README example on %s', adapter => {
 *   const boot = appPerTest(adapter);
 *   it('serves /metrics', async () => {
 *     const app = await boot({ imports: [AppModule] });
 *     await scrape(app);
 *   });
 * });
 */
export function appPerTest(adapter: AdapterName): (metadata: ModuleMetadata) => Promise<INestApplication> {
  let app: INestApplication | undefined;
  const saved = { ...process.env };
  beforeEach(() => register.resetMetrics());
  afterEach(async () => {
    await app?.close();
    app = undefined;
    process.env = { ...saved };
  });
  return async metadata => (app = await createApp(adapter, metadata));
}
