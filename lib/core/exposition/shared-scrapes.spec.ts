import { gunzipSync } from 'node:zlib';
import { type RenderFn, SharedScrapes } from './shared-scrapes.js';

/** A rendering of `lines` lines tagged with the rendering's number, in slices as the renderer hands them on. */
function renderer(lines = 20000): { render: RenderFn; count: () => number } {
  let renderings = 0;
  const render: RenderFn = async (_accept, _names, onSlice) => {
    const n = ++renderings;
    for (let i = 0; i < lines; i += 500) {
      let slice = '';
      for (let k = i; k < i + 500; k++) slice += `metric_total{rendering="${n}",k="${k}"} ${k}\n`;
      onSlice(slice);
      await new Promise(resolve => setImmediate(resolve));
    }
  };
  return { render, count: () => renderings };
}

function text(body: unknown): string {
  return Buffer.concat(body as Buffer[]).toString('utf8');
}

function memoryOf(body: unknown): Set<ArrayBufferLike> {
  return new Set((body as Buffer[]).map(b => b.buffer));
}

describe('SharedScrapes: the buffers of bodies', () => {
  it('reuses a body’s buffers only once every scrape that shared it has released it', async () => {
    const scrapes = new SharedScrapes(2);
    const { render } = renderer();
    const [a, b] = await Promise.all([
      scrapes.respond(undefined, undefined, undefined, render),
      scrapes.respond(undefined, undefined, undefined, render),
    ]);
    expect(a.body).toBe(b.body);
    const first = text(a.body);
    expect(first).toContain('rendering="1",k="19999"');
    a.release?.();
    a.release?.(); // once only: a second call does not count for b

    const c = await scrapes.respond(undefined, undefined, undefined, render);
    expect(text(c.body)).toContain('rendering="2",k="0"');
    // b still holds the first body: it was not reused, and reads as it did.
    expect([...memoryOf(c.body)].some(m => memoryOf(a.body).has(m))).toBe(false);
    expect(text(b.body)).toBe(first);

    b.release?.();
    const d = await scrapes.respond(undefined, undefined, undefined, render);
    expect([...memoryOf(d.body)].some(m => memoryOf(a.body).has(m))).toBe(true);
    expect(text(d.body)).toContain('rendering="3",k="19999"');
    expect(text(d.body)).not.toContain('rendering="1"');
    expect(text(c.body)).not.toContain('rendering="3"');
  });

  it('gives a gzip-only rendering’s buffers back at once; its gzipped body needs no release', async () => {
    const scrapes = new SharedScrapes(2);
    const { render } = renderer();
    const zipped = await scrapes.respond(undefined, 'gzip', undefined, render);
    expect(zipped.release).toBeUndefined();
    expect(gunzipSync(zipped.body as Buffer).toString('utf8')).toContain('rendering="1",k="19999"');
    const plain = await scrapes.respond(undefined, undefined, undefined, render);
    expect(text(plain.body)).toContain('rendering="2",k="19999"');
    // The compressed body is its own memory: still intact after the plain rendering reused the buffers.
    expect(gunzipSync(zipped.body as Buffer).toString('utf8')).not.toContain('rendering="2"');
  });
});
