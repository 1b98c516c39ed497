import { gunzipSync } from 'node:zlib';
import { BODY_BUFFER_BYTES, BodyBufferPool } from './body-buffer-pool.js';
import { ExpositionBody } from './exposition-body.js';

/** Slices as a renderer hands them on: ASCII lines, multi-byte label values, one slice larger than a pool buffer. */
function slices(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 200; i++) {
    out.push(`\nbench_calls_total{class="Service${i}",method="método_${i}",emoji="✓🚀"} ${i}`.repeat(40));
  }
  out.splice(50, 0, '');
  out.splice(120, 0, `\n# HELP huge ${'é'.repeat(BODY_BUFFER_BYTES)}`);
  return out;
}

async function encode(
  pool: BodyBufferPool | undefined,
  wanted: { plain: boolean; gzip: boolean },
  input = slices(),
): Promise<{ plain?: Buffer; gzipped?: Buffer; body: ExpositionBody; views: readonly Buffer[] }> {
  const body = new ExpositionBody(wanted, pool);
  for (const slice of input) body.write(slice);
  const bodies = await body.end();
  return {
    plain: bodies.plain && Buffer.concat(bodies.plain),
    gzipped: bodies.gzipped,
    body,
    views: bodies.plain ?? [],
  };
}

describe('ExpositionBody', () => {
  const expected = Buffer.from(slices().join(''), 'utf8');

  it('encodes the slices into pool buffers byte for byte, with a buffer of its own for a slice larger than one', async () => {
    const pool = new BodyBufferPool();
    const { plain, views } = await encode(pool, { plain: true, gzip: false });
    expect(plain?.equals(expected)).toBe(true);
    // One view per pool buffer (and the large slice), not one per slice.
    expect(views.length).toBeLessThan(slices().length / 4);
    expect(views.some(v => v.length > BODY_BUFFER_BYTES)).toBe(true);
  });

  it('feeds the compressor the same bytes, for a gzip-only and a shared rendering', async () => {
    const pool = new BodyBufferPool();
    const gzipOnly = await encode(pool, { plain: false, gzip: true });
    expect(gunzipSync(gzipOnly.gzipped as Buffer).equals(expected)).toBe(true);
    const both = await encode(pool, { plain: true, gzip: true });
    expect(both.plain?.equals(expected)).toBe(true);
    expect(gunzipSync(both.gzipped as Buffer).equals(expected)).toBe(true);
  });

  it('reuses released buffers for the next body, and never buffers still held', async () => {
    const pool = new BodyBufferPool();
    const first = await encode(pool, { plain: true, gzip: false });
    // Not released: the next body takes new buffers, and the first body's bytes stay as they were.
    const other = slices().map(s => s.toUpperCase());
    const second = await encode(pool, { plain: true, gzip: false }, other);
    expect(Buffer.concat(first.views).equals(expected)).toBe(true);
    const firstMemory = new Set(first.views.map(v => v.buffer));
    expect(second.views.some(v => firstMemory.has(v.buffer))).toBe(false);

    first.body.release();
    expect(pool.size).toBeGreaterThan(0);
    const third = await encode(pool, { plain: true, gzip: false }, other);
    expect(third.views.some(v => firstMemory.has(v.buffer))).toBe(true);
    expect(third.plain?.equals(Buffer.from(other.join(''), 'utf8'))).toBe(true);
    // The second body, still held, is intact.
    expect(Buffer.concat(second.views).equals(Buffer.from(other.join(''), 'utf8'))).toBe(true);
  });

  it('without a pool, encodes each slice on its own (as before pools)', async () => {
    const { plain, views } = await encode(undefined, { plain: true, gzip: false });
    expect(plain?.equals(expected)).toBe(true);
    expect(views).toHaveLength(slices().length);
  });
});

describe('BodyBufferPool', () => {
  it('keeps at most twice the buffers of the largest body given back', () => {
    const pool = new BodyBufferPool();
    const taken = [pool.take(), pool.take(), pool.take()];
    expect(taken.every(b => b.length === BODY_BUFFER_BYTES)).toBe(true);
    pool.give(taken);
    expect(pool.size).toBe(3);
    pool.give([Buffer.allocUnsafeSlow(BODY_BUFFER_BYTES), Buffer.allocUnsafeSlow(BODY_BUFFER_BYTES)]);
    pool.give(Array.from({ length: 3 }, () => Buffer.allocUnsafeSlow(BODY_BUFFER_BYTES)));
    expect(pool.size).toBe(6);
    expect(pool.take()).toBeDefined();
    expect(pool.size).toBe(5);
  });
});
