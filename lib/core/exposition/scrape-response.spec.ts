import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { endWithBody } from './scrape-response.js';

/** Serves `body` once with endWithBody, counting the event loop's turns (a 0 ms interval) while it writes. */
async function serveOnce(
  body: Buffer | Buffer[],
): Promise<{ received: Buffer; turnsWhileWriting: number; writtenInFirstTurn: number }> {
  let turns = 0;
  let writtenInFirstTurn = -1;
  let writing = false;
  const ticker = setInterval(() => {
    if (writing) turns++;
  }, 0);
  const server = http.createServer((_req, res) => {
    const length = Buffer.isBuffer(body) ? body.length : body.reduce((n, c) => n + c.length, 0);
    res.writeHead(200, { 'Content-Length': length });
    writing = true;
    res.on('finish', () => (writing = false));
    let writes = 0;
    const write = res.write.bind(res) as (chunk: Buffer) => boolean;
    res.write = ((chunk: Buffer) => {
      writes++;
      return write(chunk);
    }) as typeof res.write;
    endWithBody(res, body);
    writtenInFirstTurn = writes;
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const received = await new Promise<Buffer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/' }, res => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    return { received, turnsWhileWriting: turns, writtenInFirstTurn };
  } finally {
    clearInterval(ticker);
    await new Promise(resolve => server.close(resolve));
  }
}

describe('endWithBody', () => {
  it('writes a body of many slices over several turns of the event loop, whole and in order', async () => {
    // 800 slices of 16 KB (13 MB, a 100k-series text body): in one turn, 5 to 30 ms of writes.
    const slices = Array.from({ length: 800 }, (_, i) => Buffer.alloc(16 * 1024, i % 251));
    const { received, turnsWhileWriting, writtenInFirstTurn } = await serveOnce(slices);
    expect(received.equals(Buffer.concat(slices))).toBe(true);
    // As the socket takes them: the turn that starts the response writes only the first few.
    expect(writtenInFirstTurn).toBeGreaterThan(0);
    expect(writtenInFirstTurn).toBeLessThan(slices.length / 4);
    expect(turnsWhileWriting).toBeGreaterThan(0);
  });

  it('writes one large buffer (a gzipped body) in pieces, unchanged', async () => {
    const gzipped = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7) % 256));
    const { received, writtenInFirstTurn } = await serveOnce(gzipped);
    expect(received.equals(gzipped)).toBe(true);
    expect(writtenInFirstTurn).toBeGreaterThan(0);
    expect(writtenInFirstTurn).toBeLessThan(10);
  });

  it('a small body and an empty slice list', async () => {
    expect((await serveOnce(Buffer.from('up 1\n'))).received.toString()).toBe('up 1\n');
    expect((await serveOnce([])).received.length).toBe(0);
  });

  it('stops writing when the response is destroyed (the scraper went away)', () => {
    const written: Buffer[] = [];
    let ended = false;
    const res = {
      destroyed: true,
      write: (chunk: Buffer) => written.push(chunk),
      end: () => (ended = true),
    };
    endWithBody(res, [Buffer.alloc(10), Buffer.alloc(10)]);
    expect(written).toHaveLength(0);
    expect(ended).toBe(false);
  });
});
